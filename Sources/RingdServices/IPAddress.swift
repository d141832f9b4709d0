// IPAddress and Peer: a client's address as plain bytes, parsed from and written as text without
// the C library, so access lists and `{peer}` need no sockaddr and no inet_pton.
//
// An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, what a dual-stack IPv6 listener reports for an
// IPv4 client) is stored as the IPv4 address it carries: an access list written for IPv4 matches
// it, and it prints as `127.0.0.1`.
//
// Text follows RFC 5952 on output (lowercase, longest run of zero groups as `::`) and accepts the
// RFC 4291 forms on input, including a trailing dotted IPv4 part (`::ffff:10.0.0.1`). IPv4 parts
// are strict dotted decimal: four parts, no leading zeros (`010` is rejected, as inet_pton does).
// Zone identifiers (`fe80::1%eth0`) are not accepted.

/// An IPv4 or IPv6 address.
public struct IPAddress: Hashable, Sendable, BitwiseCopyable, CustomStringConvertible {
    public enum Family: Sendable, Hashable, BitwiseCopyable {
        case ipv4
        case ipv6
    }

    public let family: Family
    /// The first 64 bits in network order, as a number; zero for IPv4.
    public let high: UInt64
    /// The last 64 bits in network order, as a number; for IPv4 the address is the low 32 bits.
    public let low: UInt64

    /// An IPv4 address from its 32-bit value (`0x7F00_0001` is 127.0.0.1).
    public init(ipv4 value: UInt32) {
        self.init(family: .ipv4, high: 0, low: UInt64(value))
    }

    private init(family: Family, high: UInt64, low: UInt64) {
        self.family = family
        self.high = high
        self.low = low
    }

    public init(ipv4 a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        self.init(ipv4: UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d))
    }

    /// An IPv6 address from its two 64-bit halves; an IPv4-mapped address becomes IPv4.
    public init(ipv6High high: UInt64, low: UInt64) {
        if high == 0 && low >> 32 == 0xFFFF {
            self.init(ipv4: UInt32(truncatingIfNeeded: low))
        } else {
            self.init(family: .ipv6, high: high, low: low)
        }
    }

    /// An address from its bytes in network order, as in `sin_addr` (4 bytes) or `sin6_addr`
    /// (16 bytes); nil for any other length.
    public init?(bytes: UnsafeRawBufferPointer) {
        func bigEndianWord(at offset: Int, count: Int) -> UInt64 {
            var value: UInt64 = 0
            for index in offset..<offset + count { value = value << 8 | UInt64(bytes[index]) }
            return value
        }
        switch bytes.count {
        case 4: self.init(ipv4: UInt32(bigEndianWord(at: 0, count: 4)))
        case 16: self.init(ipv6High: bigEndianWord(at: 0, count: 8), low: bigEndianWord(at: 8, count: 8))
        default: return nil
        }
    }

    /// Parses `127.0.0.1`, `::1`, `2001:db8::7`, `::ffff:10.0.0.1`.
    public init(parsing text: some StringProtocol) throws(AddressParseError) {
        let bytes = Array(text.utf8)
        if bytes.isEmpty { throw AddressParseError(text: String(text), reason: "empty address") }
        do {
            if bytes.contains(UInt8(ascii: ":")) {
                let (high, low) = try parseIPv6(bytes[...])
                self.init(ipv6High: high, low: low)
            } else {
                self.init(ipv4: try parseIPv4(bytes[...]))
            }
        } catch {
            throw AddressParseError(text: String(text), reason: error.reason)
        }
    }

    /// The 128-bit value used for prefix matching; for IPv4 only the low 32 bits are meaningful.
    var bitLength: Int { family == .ipv4 ? 32 : 128 }

    /// The longest text `write(to:)` produces: `ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff`.
    public static let maximumTextCount = 39

    /// Writes the address as text: `127.0.0.1` or `2001:db8::1`.
    public func write(to writer: inout ByteWriter) {
        switch family {
        case .ipv4:
            for shift in stride(from: 24, through: 0, by: -8) {
                writer.write(decimal: (low >> UInt64(shift)) & 0xFF)
                if shift != 0 { writer.write(UInt8(ascii: ".")) }
            }
        case .ipv6:
            writeIPv6(to: &writer)
        }
    }

    private func group(_ index: Int) -> UInt64 {
        let word = index < 4 ? high : low
        return (word >> UInt64(48 - 16 * (index % 4))) & 0xFFFF
    }

    private func writeIPv6(to writer: inout ByteWriter) {
        // RFC 5952 section 4.2: the longest run of two or more zero groups (the first, on a tie)
        // becomes "::".
        var bestStart = -1
        var bestLength = 1
        var runStart = -1
        for index in 0...8 {
            if index < 8 && group(index) == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength { (bestStart, bestLength) = (runStart, index - runStart) }
                runStart = -1
            }
        }
        var index = 0
        while index < 8 {
            if index == bestStart {
                writer.write("::")
                index += bestLength
                continue
            }
            if index > 0 && index != bestStart + bestLength { writer.write(UInt8(ascii: ":")) }
            writer.write(hexadecimal: group(index))
            index += 1
        }
    }

    public var description: String {
        withTemporaryWriter(capacity: Self.maximumTextCount) { write(to: &$0) }
    }
}

/// Text that is not an IP address, and why.
public struct AddressParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text as given.
    public var text: String
    /// What is wrong with it, for example `part 300 is larger than 255`.
    public var reason: String

    public init(text: String, reason: String) {
        self.text = text
        self.reason = reason
    }

    public var description: String { "bad address \"\(text)\": \(reason)" }
}

/// A reason without the text, while parsing.
struct Invalid: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

private func hexValue(_ byte: UInt8) -> UInt64? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt64(byte - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt64(byte - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt64(byte - UInt8(ascii: "A") + 10)
    default: nil
    }
}

private func describe(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

/// Strict dotted decimal: exactly four parts of 0...255 without leading zeros.
private func parseIPv4(_ bytes: ArraySlice<UInt8>) throws(Invalid) -> UInt32 {
    let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
    guard parts.count > 1 else { throw Invalid("expected an IPv4 address like 10.0.0.1 or an IPv6 address like ::1") }
    guard parts.count == 4 else { throw Invalid("an IPv4 address has 4 parts, not \(parts.count)") }
    var value: UInt32 = 0
    for part in parts {
        guard !part.isEmpty else { throw Invalid("empty part") }
        guard part.allSatisfy(isDigit) else {
            if let bad = part.first(where: { !isDigit($0) }), bad >= 0x21 && bad < 0x7F {
                throw Invalid("unexpected \"\(Character(Unicode.Scalar(bad)))\" in \"\(describe(part))\"")
            }
            throw Invalid("part \"\(describe(part))\" is not a decimal number")
        }
        guard part.count <= 3 else { throw Invalid("part \(describe(part)) is larger than 255") }
        guard part.count == 1 || part.first != UInt8(ascii: "0") else {
            throw Invalid("part \(describe(part)) has a leading zero")
        }
        let number = part.reduce(0) { $0 * 10 + UInt32($1 - UInt8(ascii: "0")) }
        guard number <= 255 else { throw Invalid("part \(number) is larger than 255") }
        value = value << 8 | number
    }
    return value
}

/// RFC 4291 section 2.2 text: eight groups, one `::` for a run of zero groups, and an optional
/// dotted IPv4 address in place of the last two groups.
private func parseIPv6(_ bytes: ArraySlice<UInt8>) throws(Invalid) -> (UInt64, UInt64) {
    if bytes.contains(UInt8(ascii: "%")) { throw Invalid("zone identifiers (%...) are not supported") }
    var head: [UInt64] = []
    var tail: [UInt64] = []
    var sawDoubleColon = false
    var index = bytes.startIndex
    if bytes.starts(with: [UInt8(ascii: ":")]) {
        guard bytes.dropFirst().first == UInt8(ascii: ":") else { throw Invalid("a single \":\" cannot start an address") }
        sawDoubleColon = true
        index += 2
    }
    while index < bytes.endIndex {
        // One group (or a trailing IPv4 part), then ":" or "::" or the end.
        let end = bytes[index...].firstIndex(of: UInt8(ascii: ":")) ?? bytes.endIndex
        let field = bytes[index..<end]
        if field.contains(UInt8(ascii: ".")) {
            guard end == bytes.endIndex else { throw Invalid("an IPv4 part is only allowed at the end") }
            let ipv4 = UInt64(try parseIPv4(field))
            if sawDoubleColon { tail += [ipv4 >> 16, ipv4 & 0xFFFF] } else { head += [ipv4 >> 16, ipv4 & 0xFFFF] }
            index = end
            break
        }
        guard !field.isEmpty else { throw Invalid("empty group") }
        guard field.count <= 4 else { throw Invalid("group \"\(describe(field))\" has more than 4 hex digits") }
        var group: UInt64 = 0
        for byte in field {
            guard let digit = hexValue(byte) else {
                throw Invalid("\"\(describe(field))\" is not a hexadecimal group")
            }
            group = group << 4 | digit
        }
        if sawDoubleColon { tail.append(group) } else { head.append(group) }
        index = end
        if index == bytes.endIndex { break }
        index += 1  // the ":"
        if index < bytes.endIndex && bytes[index] == UInt8(ascii: ":") {
            guard !sawDoubleColon else { throw Invalid("\"::\" may appear only once") }
            sawDoubleColon = true
            index += 1
        } else if index == bytes.endIndex {
            throw Invalid("a single \":\" cannot end an address")
        }
    }
    let groupCount = head.count + tail.count
    if sawDoubleColon {
        guard groupCount <= 7 else { throw Invalid("\"::\" with \(groupCount) other groups is more than 8 groups") }
    } else {
        guard groupCount == 8 else { throw Invalid("an IPv6 address has 8 groups, not \(groupCount)") }
    }
    let groups = head + Array(repeating: 0, count: 8 - groupCount) + tail
    let high = groups[0..<4].reduce(0) { $0 << 16 | $1 }
    let low = groups[4..<8].reduce(0) { $0 << 16 | $1 }
    return (high, low)
}

/// A client's address and port, written as `HOST PORT` like the Perl echo server's access log
/// (`[127.0.0.1 35577] line`), with the numeric host in place of a reverse lookup.
public struct Peer: Hashable, Sendable, BitwiseCopyable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16
    /// A client of a Unix-domain listener: it has no address (access lists do not apply to it),
    /// and it prints as `unix`.
    public var isUnix: Bool

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
        isUnix = false
    }

    /// Any client of a Unix-domain listener.
    public static let unix: Peer = {
        var peer = Peer(address: IPAddress(ipv4: 0), port: 0)
        peer.isUnix = true
        return peer
    }()

    /// The longest text `write(to:)` produces: an IPv6 address, a space and five digits.
    public static let maximumTextCount = IPAddress.maximumTextCount + 6

    /// Writes `HOST PORT`, or `unix`.
    public func write(to writer: inout ByteWriter) {
        if isUnix {
            writer.write("unix")
            return
        }
        address.write(to: &writer)
        writer.write(UInt8(ascii: " "))
        writer.write(decimal: UInt64(port))
    }

    public var description: String {
        withTemporaryWriter(capacity: Self.maximumTextCount) { write(to: &$0) }
    }
}

/// Renders into a scratch buffer and returns a String; for descriptions and tests, not the hot path.
func withTemporaryWriter(capacity: Int, _ body: (inout ByteWriter) -> Void) -> String {
    withUnsafeTemporaryAllocation(byteCount: capacity, alignment: 1) { storage in
        var writer = ByteWriter(storage)
        body(&writer)
        return String(decoding: writer.written, as: UTF8.self)
    }
}
