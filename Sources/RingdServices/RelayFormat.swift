// The relay's names and lines: what a client is called, and every line the hub sends, written
// once so that a worker can render a line for its own clients and post it to the others. The
// protocol is in Relay.swift.

/// A client's name: 1...32 visible ASCII bytes, stored inline.
public struct RelayName: Hashable, Sendable, CustomStringConvertible {
    public static let maximumCount = 32

    /// Why a proposed name was refused.
    public enum Invalid: Error, Sendable, Equatable {
        /// Empty, longer than 32 bytes, or with a byte outside 0x21...0x7E.
        case malformed
        /// `client` and digits: those are the names new clients get.
        case reserved
    }

    private var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private var length: UInt8 = 0

    public var count: Int { Int(length) }

    /// A name a client chose, checked.
    public init(_ bytes: UnsafeRawBufferPointer) throws(Invalid) {
        try self.init(naming: bytes)
        if isReserved { throw .reserved }
    }

    /// A name to find a client by: any well-formed one, `client7` included.
    public init(naming bytes: UnsafeRawBufferPointer) throws(Invalid) {
        guard (1...Self.maximumCount).contains(bytes.count),
            bytes.allSatisfy({ (0x21...0x7E).contains($0) })
        else { throw .malformed }
        self.init(unchecked: bytes)
    }

    init(unchecked bytes: UnsafeRawBufferPointer) {
        withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: bytes) }
        length = UInt8(bytes.count)
    }

    /// `client<number>`, a new client's name; with a cluster `client<number>@<node>`, so that
    /// each host's default names are its own and no host asks Redis for them. The node is at
    /// most `maximumNodeCount` bytes (the configuration checks it), which leaves room for numbers
    /// of up to 9 digits; past that the node is cut to fit (a billion relay clients in one
    /// process).
    public static func numbered(_ number: UInt64, node: RelayName? = nil) -> RelayName {
        withUnsafeTemporaryAllocation(byteCount: maximumCount + 1 + maximumNodeCount, alignment: 1) { scratch in
            var writer = ByteWriter(scratch)
            writer.write("client")
            writer.write(decimal: number)
            if let node {
                writer.write(UInt8(ascii: "@"))
                node.write(to: &writer)
            }
            return RelayName(unchecked: UnsafeRawBufferPointer(rebasing: writer.written.prefix(maximumCount)))
        }
    }

    /// The longest node name default names can end in (`cluster.node` in relay mode).
    public static let maximumNodeCount = 16

    /// `client` followed by one or more digits, and with a cluster `@` and a node: the names new
    /// clients get, which nobody may choose.
    var isReserved: Bool {
        withBytes { bytes in
            let prefix = "client".utf8
            guard bytes.count > prefix.count && bytes.starts(with: prefix) else { return false }
            let rest = bytes.dropFirst(prefix.count)
            let digits = rest.prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
            return !digits.isEmpty && (digits.count == rest.count || rest[rest.startIndex + digits.count] == UInt8(ascii: "@"))
        }
    }

    public func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        withUnsafeBytes(of: storage) { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

    public func write(to writer: inout ByteWriter) {
        withBytes { writer.write($0) }
    }

    public static func == (left: RelayName, right: RelayName) -> Bool {
        left.length == right.length && left.storage.0 == right.storage.0 && left.storage.1 == right.storage.1
            && left.storage.2 == right.storage.2 && left.storage.3 == right.storage.3
    }

    public func hash(into hasher: inout Hasher) {
        withBytes { hasher.combine(bytes: $0) }
    }

    public var description: String { withBytes { String(decoding: $0, as: UTF8.self) } }
}

/// Errors a relay sends to the one client that caused them.
public enum RelayError: Sendable, Equatable {
    case invalidName
    case reservedName
    case nameTaken(RelayName)
    case alreadyNamed(RelayName)
    /// `/msg` to a name nobody has.
    case noSuchClient(RelayName)
    /// `/msg` without a name or without a text.
    case messageUsage
    case unknownCommand
    /// `/nick` while an earlier one waits for the cluster's answer.
    case renameInProgress
    /// `/nick`, or `/msg` to a client not on this host, while Redis cannot be reached.
    case clusterUnavailable
}

/// The relay's lines, for a hub and for a worker that fans a line out to its own clients.
/// Each writes a whole line and returns the range of the writer it filled, or writes nothing and
/// returns nil when the line does not fit.
public enum RelayFormat {
    /// The most bytes a `/who` line takes: as many names as fit, then " and N more".
    public static let whoLineLimit = 512

    /// The most bytes one relay line takes when the chat text is at most `maxLine` bytes: a
    /// private message (the longest prefix), a rename, or the /who line, which also covers every
    /// error line (a test checks them).
    public static func maximumLineCount(maxLine: Int) -> Int {
        max(RelayName.maximumCount + 12 + maxLine + 1, 2 + 2 * RelayName.maximumCount + 9 + 1, whoLineLimit)
    }

    /// The free bytes a writer needs for one RelayHub call, when lines are at most `maxLine` bytes.
    public static func maximumHubOutputCount(maxLine: Int) -> Int {
        // Two lines (a welcome and a join), and with a cluster a header for the other hosts.
        2 * maximumLineCount(maxLine: maxLine) + RelayWire.maximumHeaderCount
    }

    /// `NAME: text\n`
    @discardableResult
    public static func writeChat(from name: RelayName, text: UnsafeRawBufferPointer, into writer: inout ByteWriter) -> Range<Int>?
    {
        writeLine(from: name, separator: ": ", text: text, into: &writer)
    }

    /// `NAME (private): text\n`, a /msg to its target.
    @discardableResult
    public static func writePrivate(
        from name: RelayName, text: UnsafeRawBufferPointer, into writer: inout ByteWriter
    ) -> Range<Int>? {
        writeLine(from: name, separator: " (private): ", text: text, into: &writer)
    }

    /// `NAME`, `separator`, `text`, a line feed: whole or nothing.
    private static func writeLine(
        from name: RelayName, separator: StaticString, text: UnsafeRawBufferPointer, into writer: inout ByteWriter
    ) -> Range<Int>? {
        let start = writer.count
        name.write(to: &writer)
        writer.write(separator)
        writer.write(text)
        writer.write(UInt8(ascii: "\n"))
        return writer.commit(since: start) ? start..<writer.count : nil
    }

    /// `* online: NAME NAME ...\n`, the answer to /who: names until the next would pass
    /// `whoLineLimit` bytes with the tail, then ` and N more` if any are left out.
    @discardableResult
    public static func writeWho<Directory: RelayDirectory>(
        listing directory: Directory, into writer: inout ByteWriter
    ) -> Range<Int>? {
        let start = writer.count
        // Room kept for " and N more\n" with N of up to 20 digits.
        let namesEnd = start + whoLineLimit - (5 + 20 + 5 + 1)
        writer.write("* online:")
        var listed = 0
        let total = directory.listNames { name in
            guard writer.count + 1 + name.count <= namesEnd else { return false }
            writer.write(UInt8(ascii: " "))
            name.write(to: &writer)
            listed += 1
            return true
        }
        return finishWho(listed: listed, total: total, from: start, into: &writer)
    }

    /// `* online: ...\n` from the cluster: `listed` holds names, each followed by a space, of
    /// the `total` held on every host; as many as fit, then ` and N more`.
    @discardableResult
    public static func writeWho(listed: UnsafeRawBufferPointer, total: Int, into writer: inout ByteWriter) -> Range<Int>? {
        let start = writer.count
        let namesEnd = start + whoLineLimit - (5 + 20 + 5 + 1)
        writer.write("* online:")
        var listedCount = 0
        var nameStart = 0
        while let space = listed[nameStart...].firstIndex(of: UInt8(ascii: " ")) {
            let name = UnsafeRawBufferPointer(rebasing: listed[nameStart..<space])
            nameStart = space + 1
            guard !name.isEmpty else { continue }
            guard writer.count + 1 + name.count <= namesEnd else { break }
            writer.write(UInt8(ascii: " "))
            writer.write(name)
            listedCount += 1
        }
        return finishWho(listed: listedCount, total: total, from: start, into: &writer)
    }

    /// ` and N more` when not every name fitted, the line feed, and the line's range.
    private static func finishWho(listed: Int, total: Int, from start: Int, into writer: inout ByteWriter) -> Range<Int>? {
        if listed < total {
            writer.write(" and ")
            writer.write(decimal: UInt64(total - listed))
            writer.write(" more")
        }
        writer.write(UInt8(ascii: "\n"))
        return writer.commit(since: start) ? start..<writer.count : nil
    }

    /// `* NAME joined\n`
    @discardableResult
    public static func writeJoined(_ name: RelayName, into writer: inout ByteWriter) -> Range<Int>? {
        writeNotice(name, " joined\n", into: &writer)
    }

    /// `* NAME left\n`
    @discardableResult
    public static func writeLeft(_ name: RelayName, into writer: inout ByteWriter) -> Range<Int>? {
        writeNotice(name, " left\n", into: &writer)
    }

    /// `* you are NAME\n`, to a client that just connected.
    @discardableResult
    public static func writeWelcome(_ name: RelayName, into writer: inout ByteWriter) -> Range<Int>? {
        let start = writer.count
        writer.write("* you are ")
        name.write(to: &writer)
        writer.write(UInt8(ascii: "\n"))
        return writer.commit(since: start) ? start..<writer.count : nil
    }

    /// `* OLD is now NEW\n`
    @discardableResult
    public static func writeRenamed(from old: RelayName, to new: RelayName, into writer: inout ByteWriter) -> Range<Int>? {
        let start = writer.count
        writer.write("* ")
        old.write(to: &writer)
        writer.write(" is now ")
        new.write(to: &writer)
        writer.write(UInt8(ascii: "\n"))
        return writer.commit(since: start) ? start..<writer.count : nil
    }

    /// `error: ...\n`
    @discardableResult
    public static func writeError(_ error: RelayError, into writer: inout ByteWriter) -> Range<Int>? {
        let start = writer.count
        switch error {
        case .invalidName:
            writer.write("error: a name is 1 to 32 visible ASCII characters, without spaces\n")
        case .reservedName:
            writer.write("error: names like client7 are given to new clients; choose another\n")
        case .nameTaken(let name):
            writer.write("error: the name ")
            name.write(to: &writer)
            writer.write(" is taken\n")
        case .alreadyNamed(let name):
            writer.write("error: you are already ")
            name.write(to: &writer)
            writer.write(UInt8(ascii: "\n"))
        case .noSuchClient(let name):
            writer.write("error: no such client ")
            name.write(to: &writer)
            writer.write(UInt8(ascii: "\n"))
        case .messageUsage:
            writer.write("error: usage: /msg NAME text\n")
        case .unknownCommand:
            writer.write("error: unknown command; commands are /msg NAME text, /who, /nick NAME and /quit\n")
        case .renameInProgress:
            writer.write("error: your last /nick is still waiting for an answer from the other hosts\n")
        case .clusterUnavailable:
            writer.write("error: the other hosts cannot be reached now; try again later\n")
        }
        return writer.commit(since: start) ? start..<writer.count : nil
    }

    private static func writeNotice(_ name: RelayName, _ tail: StaticString, into writer: inout ByteWriter) -> Range<Int>? {
        let start = writer.count
        writer.write("* ")
        name.write(to: &writer)
        writer.write(tail)
        return writer.commit(since: start) ? start..<writer.count : nil
    }
}
