// AccessList: which client addresses may connect, from `allow` and `deny` lists of CIDR ranges.
//
// The decision, for a peer's address:
//   1. If `allow` is not empty, the address must be in one of its ranges, or it is refused.
//   2. Then, if the address is in any `deny` range, it is refused.
//   3. Otherwise it is allowed.
// So `allow = ["10.0.0.0/8"], deny = ["10.0.0.66/32"]` admits the 10/8 network but one host, and
// an empty allow list admits everyone not denied.
//
// Ranges are written `ADDRESS/PREFIX` or a bare `ADDRESS` (one host: /32 or /128). IPv4 ranges
// match IPv4 clients and IPv6 ranges IPv6 clients; an IPv4-mapped IPv6 client (::ffff:a.b.c.d)
// is an IPv4 client, and a range written in the mapped form (`::ffff:10.0.0.0/104`, prefix 96 or
// more) is the IPv4 range it stands for. Host bits below the prefix must be zero:
// `10.0.0.1/8` is an error that suggests `10.0.0.0/8`, since it is more likely a typo than a
// request for the whole network. Errors name the entry and the reason; the config layer adds
// where the entry is.

/// One CIDR range: `127.0.0.0/8`, `2001:db8::/32`.
public struct AddressRange: Hashable, Sendable, CustomStringConvertible {
    /// The first address of the range (host bits zero).
    public let network: IPAddress
    /// Leading bits that must match: 0...32 for IPv4, 0...128 for IPv6.
    public let prefixLength: Int

    /// The range of `prefixLength` bits around `address`; host bits are cleared.
    public init(_ address: IPAddress, prefixLength: Int) {
        precondition((0...address.bitLength).contains(prefixLength), "prefix /\(prefixLength) is too long for \(address)")
        self.prefixLength = prefixLength
        let (high, low) = Self.masks(prefixLength, address.family)
        network =
            address.family == .ipv4
            ? IPAddress(ipv4: UInt32(truncatingIfNeeded: address.low & low))
            : IPAddress(ipv6High: address.high & high, low: address.low & low)
    }

    /// Parses `ADDRESS/PREFIX` or `ADDRESS`.
    public init(parsing text: String) throws(AddressRangeError) {
        let slash = text.firstIndex(of: "/")
        let addressText = text[..<(slash ?? text.endIndex)]
        let address: IPAddress
        do {
            address = try IPAddress(parsing: addressText)
        } catch {
            throw AddressRangeError(entry: text, reason: .badAddress(error.reason))
        }
        // A mapped address written in IPv6 form counts its prefix over 128 bits.
        let writtenBits = addressText.contains(":") ? 128 : 32
        var prefix = address.bitLength
        if let slash {
            let prefixText = text[text.index(after: slash)...]
            guard !prefixText.isEmpty, prefixText.utf8.count <= 3, prefixText.allSatisfy(\.isASCII),
                prefixText.allSatisfy(\.isNumber), let written = Int(prefixText)
            else { throw AddressRangeError(entry: text, reason: .badPrefix(String(prefixText))) }
            guard written <= writtenBits else {
                throw AddressRangeError(entry: text, reason: .prefixTooLong(written, maximum: writtenBits))
            }
            prefix = written
            if writtenBits == 128 && address.family == .ipv4 {
                guard written >= 96 else { throw AddressRangeError(entry: text, reason: .mappedPrefixTooShort(written)) }
                prefix = written - 96
            }
        }
        let range = AddressRange(address, prefixLength: prefix)
        guard range.network == address else {
            throw AddressRangeError(entry: text, reason: .hostBitsSet(suggestion: range.description))
        }
        self = range
    }

    public func contains(_ address: IPAddress) -> Bool {
        guard address.family == network.family else { return false }
        let (high, low) = Self.masks(prefixLength, network.family)
        return address.high & high == network.high && address.low & low == network.low
    }

    /// The bits a prefix keeps, in the 128-bit (high, low) form IPAddress uses.
    private static func masks(_ prefixLength: Int, _ family: IPAddress.Family) -> (UInt64, UInt64) {
        func leadingOnes(_ count: Int) -> UInt64 {  // the top `count` of 64 bits
            count <= 0 ? 0 : count >= 64 ? .max : ~(UInt64.max >> UInt64(count))
        }
        switch family {
        case .ipv4: return (0, leadingOnes(prefixLength) >> 32)
        case .ipv6: return (leadingOnes(prefixLength), leadingOnes(prefixLength - 64))
        }
    }

    public var description: String { "\(network)/\(prefixLength)" }
}

/// An access-list entry that is not a range, and why.
public struct AddressRangeError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The part before `/` is not an address; the text says what is wrong with it.
        case badAddress(String)
        /// The part after `/` is not a decimal number.
        case badPrefix(String)
        /// The prefix is longer than the address (32 bits for IPv4, 128 for IPv6).
        case prefixTooLong(Int, maximum: Int)
        /// Bits below the prefix are set; the suggestion is the network that was likely meant.
        case hostBitsSet(suggestion: String)
        /// An IPv4-mapped range needs a prefix of at least 96 bits.
        case mappedPrefixTooShort(Int)
    }

    /// The entry as written.
    public var entry: String
    public var reason: Reason

    public init(entry: String, reason: Reason) {
        self.entry = entry
        self.reason = reason
    }

    /// Why, without the entry: `prefix /33 is longer than 32 bits`.
    public var message: String {
        switch reason {
        case .badAddress(let why): "bad address: \(why)"
        case .badPrefix(let text): "prefix \"/\(text)\" is not a number of bits"
        case .prefixTooLong(let prefix, let maximum):
            "prefix /\(prefix) is longer than the \(maximum) bits of an \(maximum == 32 ? "IPv4" : "IPv6") address"
        case .hostBitsSet(let suggestion): "bits after the prefix are set; did you mean \(suggestion)?"
        case .mappedPrefixTooShort(let prefix):
            "prefix /\(prefix) is shorter than /96, the IPv4-mapped prefix ::ffff:0:0/96"
        }
    }

    public var description: String { "\"\(entry)\": \(message)" }
}

/// Allow and deny lists; see the file comment for how they combine.
public struct AccessList: Sendable, Equatable {
    public enum Decision: Sendable, Equatable {
        case allow
        case deny
    }

    public enum List: String, Sendable, Equatable {
        case allow, deny
    }

    /// An entry of one of the lists that cannot be parsed.
    public struct Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
        public var list: List
        /// 0-based position in the list.
        public var index: Int
        public var range: AddressRangeError

        public init(list: List, index: Int, range: AddressRangeError) {
            self.list = list
            self.index = index
            self.range = range
        }

        /// `deny[1] "10.0.0.0/33": prefix /33 is longer than the 32 bits of an IPv4 address`
        public var description: String { "\(list.rawValue)[\(index)] \(range)" }
    }

    public let allow: [AddressRange]
    public let deny: [AddressRange]

    /// The list that admits everyone.
    public init() {
        self.init(allow: [AddressRange](), deny: [])
    }

    public init(allow: [AddressRange], deny: [AddressRange]) {
        self.allow = allow
        self.deny = deny
    }

    /// Parses both lists; the first bad entry is the error.
    public init(allow: [String], deny: [String]) throws(Error) {
        func parse(_ entries: [String], _ list: List) throws(Error) -> [AddressRange] {
            var ranges: [AddressRange] = []
            for (index, entry) in entries.enumerated() {
                do {
                    ranges.append(try AddressRange(parsing: entry))
                } catch {
                    throw Error(list: list, index: index, range: error)
                }
            }
            return ranges
        }
        self.init(allow: try parse(allow, .allow), deny: try parse(deny, .deny))
    }

    /// Whether a client at `address` may connect.
    public func decide(_ address: IPAddress) -> Decision {
        if !allow.isEmpty && !Self.anyContains(allow, address) { return .deny }
        return Self.anyContains(deny, address) ? .deny : .allow
    }

    private static func anyContains(_ ranges: [AddressRange], _ address: IPAddress) -> Bool {
        for range in ranges where range.contains(address) { return true }
        return false
    }
}
