// Relay: the chat hub of the ECE 373 socket example. "The server maintains a table of client names
// ... Upon receiving a message from one client, the server can then forward it ... When a client
// quits, it should send a final message informing the server that it has quit, so the server can
// ... remove the client's socket descriptor from the table."
//
// The protocol, one line at a time (lines come from a LineFramer; CR LF or LF both end a line,
// and everything the hub sends ends in a bare "\n"):
//
//   text           -> "NAME: text\n" to every OTHER client (no self-echo); an empty line is dropped
//   /nick NAME     -> "* OLD is now NAME\n" to everyone (only to the sender without notices);
//                     NAME is 1...32 visible ASCII characters (0x21...0x7E: no spaces) that
//                     no other client holds; otherwise an "error: ...\n" line to the sender
//                     alone, naming what is wrong
//   /quit          -> "* NAME left\n" to the others, then close the sender
//   /other         -> "error: unknown command; ...\n" to the sender
//   connect        -> "* you are NAME\n" to the new client, "* NAME joined\n" to the others
//   disconnect     -> "* NAME left\n" to the others
//
// A new client is named `client<N>`, N counting connections to this hub from 1 (with a stride,
// so workers can hand out disjoint numbers); names of that form are reserved for it, so a later
// client's default name never collides with a chosen one. Join, leave and rename notices are
// optional (`Options.notices`), as is the welcome line.
//
// The hub is pure: it holds a fixed-capacity table indexed by the caller's connection slot, writes
// the lines it wants sent into the caller's ByteWriter, and returns at most two actions, each
// `send(bytes: range in the writer, to: recipients)` or `close(slot)`, to be carried out in order.
// Actions from successive calls keep each sender's lines in order. "allExcept" and "everyone"
// mean the clients of this hub; delivering to clients held by other workers is the server's
// business, and RelayFormat renders the same lines so a line can be rendered once and fanned out.
// Chosen names are unique among the clients of every hub that shares the hub's `RelayNameClaims`:
// in the server that is all the workers' hubs; the hub itself holds no lock.

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
        guard (1...Self.maximumCount).contains(bytes.count),
              bytes.allSatisfy({ (0x21...0x7E).contains($0) })
        else { throw .malformed }
        self.init(unchecked: bytes)
        if isReserved { throw .reserved }
    }

    private init(unchecked bytes: UnsafeRawBufferPointer) {
        withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: bytes) }
        length = UInt8(bytes.count)
    }

    /// `client<number>`, a new client's name.
    public static func numbered(_ number: UInt64) -> RelayName {
        withUnsafeTemporaryAllocation(byteCount: maximumCount, alignment: 1) { scratch in
            var writer = ByteWriter(scratch)
            writer.write("client")
            writer.write(decimal: number)
            return RelayName(unchecked: writer.written)
        }
    }

    /// `client` followed by one or more digits.
    var isReserved: Bool {
        withBytes { bytes in
            let prefix = "client".utf8
            return bytes.count > prefix.count && bytes.starts(with: prefix)
                && bytes.dropFirst(prefix.count).allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        }
    }

    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
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

/// Who a relay line goes to, as connection slots of the hub.
public enum RelayRecipients: Sendable, Equatable {
    case one(slot: Int)
    /// Every client of the hub but this one (the sender, or a client that just left).
    case allExcept(slot: Int)
    case everyone
}

public enum RelayAction: Sendable, Equatable {
    /// Send bytes `bytes` of the writer passed to the call that returned this action.
    case send(bytes: Range<Int>, to: RelayRecipients)
    /// Close the connection in `slot` after what was sent to it (graceful: shut down, then close).
    case close(slot: Int)
}

/// At most two actions, stored inline, to be carried out in order.
public struct RelayActions: RandomAccessCollection, Sendable, Equatable {
    private var first: RelayAction?
    private var second: RelayAction?

    public init() {}

    mutating func append(_ action: RelayAction) {
        if first == nil { first = action } else {
            precondition(second == nil, "a relay event yields at most two actions")
            second = action
        }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { first == nil ? 0 : second == nil ? 1 : 2 }
    public subscript(position: Int) -> RelayAction {
        precondition(position >= 0 && position < endIndex, "index \(position) out of range")
        return position == 0 ? first! : second!
    }
}

/// Errors a relay sends to the one client that caused them.
public enum RelayError: Sendable, Equatable {
    case invalidName
    case reservedName
    case nameTaken(RelayName)
    case alreadyNamed(RelayName)
    case unknownCommand
}

/// The relay's lines, for a hub and for a worker that fans a line out to its own clients.
/// Each writes a whole line and returns the range of the writer it filled, or writes nothing and
/// returns nil when the line does not fit.
public enum RelayFormat {
    /// The most bytes one relay line takes when the chat text is at most `maxLine` bytes.
    public static func maximumLineCount(maxLine: Int) -> Int {
        max(RelayName.maximumCount + 2 + maxLine + 1, 2 + 2 * RelayName.maximumCount + 9 + 1, 80)
    }

    /// The free bytes a writer needs for one RelayHub call, when lines are at most `maxLine` bytes.
    public static func maximumHubOutputCount(maxLine: Int) -> Int {
        2 * maximumLineCount(maxLine: maxLine)
    }

    /// `NAME: text\n`
    @discardableResult
    public static func writeChat(from name: RelayName, text: UnsafeRawBufferPointer, into writer: inout ByteWriter) -> Range<Int>? {
        let start = writer.count
        name.write(to: &writer)
        writer.write(": ")
        writer.write(text)
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
        case .unknownCommand:
            writer.write("error: unknown command; commands are /nick NAME and /quit\n")
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

/// Who holds the names clients chose with /nick. The numbered names need no record: each worker
/// hands out its own numbers, and nobody may choose one.
///
/// A hub gets one of these rather than searching its own table so that in the server every
/// worker's hub asks the same record, and a name is unique among all clients, not only among
/// one worker's. It is asked on /nick and when a renamed client leaves, never for a chat line.
public protocol RelayNameClaims: AnyObject {
    /// Records `name` as held; false, recording nothing, if a client already holds it.
    func claim(_ name: RelayName) -> Bool
    /// `name` is free again.
    func release(_ name: RelayName)
}

/// The names chosen on one hub, for a hub that has nobody to share them with.
public final class RelayNameSet: RelayNameClaims {
    private var taken: Set<RelayName> = []

    public init() {}

    public func claim(_ name: RelayName) -> Bool { taken.insert(name).inserted }

    public func release(_ name: RelayName) { taken.remove(name) }
}

/// What a relay hub says besides the chat, and how it numbers its clients.
public struct RelayOptions: Sendable {
    /// Send join, leave and rename notices to the other clients.
    public var notices = true
    /// Tell a new client its name: `* you are client7`.
    public var welcome = true
    /// The number in the first client's name.
    public var firstClientNumber: UInt64 = 1
    /// Added for each later client, so worker i of n can use first i + 1, stride n.
    public var clientNumberStride: UInt64 = 1

    public init(notices: Bool = true, welcome: Bool = true, firstClientNumber: UInt64 = 1, clientNumberStride: UInt64 = 1) {
        self.notices = notices
        self.welcome = welcome
        self.firstClientNumber = firstClientNumber
        self.clientNumberStride = clientNumberStride
    }
}

/// The chat hub: a client table and the protocol in the file comment.
public struct RelayHub<Names: RelayNameClaims> {
    public typealias Options = RelayOptions

    /// Notices and welcome can change (a reloaded configuration); the numbering does not.
    public var options: Options
    /// Names by connection slot; nil for a slot with no client.
    private var names: [RelayName?]
    /// The chosen names, held by this hub's clients and perhaps other hubs' too.
    public let claims: Names
    /// Clients in the table.
    public private(set) var clientCount = 0
    private var nextClientNumber: UInt64

    /// A hub for slots 0..<capacity. The table is allocated here, once.
    public init(capacity: Int, options: Options = Options(), claims: Names) {
        precondition(capacity > 0)
        self.options = options
        self.claims = claims
        names = Array(repeating: nil, count: capacity)
        nextClientNumber = options.firstClientNumber
    }

    public var capacity: Int { names.count }

    /// The name of the client in `slot`, or nil.
    public func name(ofSlot slot: Int) -> RelayName? {
        names.indices.contains(slot) ? names[slot] : nil
    }

    /// A client connected in `slot`: it gets a name, a welcome, and the others a join notice.
    public mutating func connect(slot: Int, into writer: inout ByteWriter) -> RelayActions {
        precondition(names.indices.contains(slot), "slot \(slot) is outside the hub's \(capacity) slots")
        precondition(names[slot] == nil, "slot \(slot) already holds a client")
        let name = RelayName.numbered(nextClientNumber)
        nextClientNumber &+= options.clientNumberStride
        names[slot] = name
        clientCount += 1
        var actions = RelayActions()
        if options.welcome {
            actions.append(.send(bytes: fitting(RelayFormat.writeWelcome(name, into: &writer)), to: .one(slot: slot)))
        }
        if options.notices {
            actions.append(.send(bytes: fitting(RelayFormat.writeJoined(name, into: &writer)), to: .allExcept(slot: slot)))
        }
        return actions
    }

    /// A complete line from the client in `slot`. Lines from a slot without a client (after its
    /// `/quit`, for instance) are ignored.
    public mutating func receive(_ line: Line, from slot: Int, into writer: inout ByteWriter) -> RelayActions {
        guard let name = name(ofSlot: slot) else { return RelayActions() }
        let text = line.content
        if text.first == UInt8(ascii: "/") { return command(text, from: slot, name: name, into: &writer) }
        var actions = RelayActions()
        if !text.isEmpty {
            actions.append(.send(bytes: fitting(RelayFormat.writeChat(from: name, text: text, into: &writer)), to: .allExcept(slot: slot)))
        }
        return actions
    }

    /// The connection in `slot` is gone. Nothing happens if the slot is already free (the client
    /// sent `/quit`), so the server can always call this when it closes a connection.
    public mutating func disconnect(slot: Int, into writer: inout ByteWriter) -> RelayActions {
        var actions = RelayActions()
        guard let name = name(ofSlot: slot) else { return actions }
        remove(slot)
        if options.notices {
            actions.append(.send(bytes: fitting(RelayFormat.writeLeft(name, into: &writer)), to: .allExcept(slot: slot)))
        }
        return actions
    }

    private mutating func command(_ text: UnsafeRawBufferPointer, from slot: Int, name: RelayName, into writer: inout ByteWriter) -> RelayActions {
        let commandEnd = text.firstIndex(of: UInt8(ascii: " ")) ?? text.count
        let command = UnsafeRawBufferPointer(rebasing: text[0..<commandEnd])
        var actions = RelayActions()
        if command.elementsEqual("/quit".utf8) {
            let left = disconnect(slot: slot, into: &writer)
            for action in left { actions.append(action) }
            actions.append(.close(slot: slot))
        } else if command.elementsEqual("/nick".utf8) {
            var argumentStart = commandEnd
            while argumentStart < text.count && text[argumentStart] == UInt8(ascii: " ") { argumentStart += 1 }
            actions.append(rename(slot, from: name, to: UnsafeRawBufferPointer(rebasing: text[argumentStart...]), into: &writer))
        } else {
            actions.append(reply(.unknownCommand, to: slot, into: &writer))
        }
        return actions
    }

    private mutating func rename(_ slot: Int, from old: RelayName, to proposed: UnsafeRawBufferPointer, into writer: inout ByteWriter) -> RelayAction {
        let new: RelayName
        do {
            new = try RelayName(proposed)
        } catch {
            return reply(error == .reserved ? .reservedName : .invalidName, to: slot, into: &writer)
        }
        if new == old { return reply(.alreadyNamed(old), to: slot, into: &writer) }
        guard claims.claim(new) else { return reply(.nameTaken(new), to: slot, into: &writer) }
        if !old.isReserved { claims.release(old) }
        names[slot] = new
        let bytes = fitting(RelayFormat.writeRenamed(from: old, to: new, into: &writer))
        return .send(bytes: bytes, to: options.notices ? .everyone : .one(slot: slot))
    }

    private func reply(_ error: RelayError, to slot: Int, into writer: inout ByteWriter) -> RelayAction {
        .send(bytes: fitting(RelayFormat.writeError(error, into: &writer)), to: .one(slot: slot))
    }

    private mutating func remove(_ slot: Int) {
        if let name = names[slot], !name.isReserved { claims.release(name) }
        names[slot] = nil
        clientCount -= 1
    }

    /// The range a RelayFormat call wrote. The caller sized the writer with
    /// `maximumOutputCount`, so a line that does not fit is a bug in the caller.
    private func fitting(_ written: Range<Int>?) -> Range<Int> {
        guard let written else { preconditionFailure("the relay's writer is full; size it with RelayFormat.maximumHubOutputCount(maxLine:)") }
        return written
    }
}

extension RelayHub where Names == RelayNameSet {
    /// A hub whose chosen names are its own affair.
    public init(capacity: Int, options: Options = Options()) {
        self.init(capacity: capacity, options: options, claims: RelayNameSet())
    }
}
