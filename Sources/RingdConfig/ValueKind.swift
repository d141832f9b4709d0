// The kinds of values configuration keys take: how each is written in TOML-lite, which values are
// allowed, and what is wrong with the others.

import RingdServices

/// Why a value cannot be used for a key. The message is put together by the caller, which knows
/// the key's path and where the value was written.
indirect enum ValueProblem: Error, Equatable {
    /// "wrong type for PATH: expected EXPECTED, found a string"
    case wrongType(expected: String)
    /// "PATH = VALUE is out of range (RANGE)"
    case outOfRange(String)
    /// "PATH = VALUE PREDICATE", as in "is not a power of two".
    case invalid(String)
    /// The problem is with element INDEX of an array: "PATH[INDEX] = ..."
    case element(Int, ValueProblem)
    /// The problem is at scalar OFFSET (0-based) of a string value, such as a bad placeholder in
    /// a message: the error points there, inside the quotes, instead of at the value's start.
    case inString(offset: Int, ValueProblem)
}

/// How values of one Swift type are written in TOML-lite, and which of them a key allows.
struct ValueKind<Value>: Sendable {
    /// The values allowed, shown beside a key's documentation; nil when the type says it all.
    let summary: String?
    let decode: @Sendable (TOMLValue) throws(ValueProblem) -> Value
    let encode: @Sendable (Value) -> TOMLValue
    /// How `--set` takes text that is not TOML, so `--set server.mode=greet` works without quotes;
    /// nil when values of this kind need TOML syntax.
    let bareValue: (@Sendable (String) -> TOMLValue)?
}

extension ValueKind where Value == Bool {
    static var boolean: Self {
        ValueKind(
            summary: nil,
            decode: { value throws(ValueProblem) in
                guard case .boolean(let flag) = value else { throw .wrongType(expected: "true or false") }
                return flag
            },
            encode: { .boolean($0) },
            bareValue: nil)
    }
}

extension ValueKind where Value == Int {
    static func integer(in range: ClosedRange<Int>) -> Self {
        ValueKind(
            summary: "\(range.lowerBound)...\(range.upperBound)",
            decode: { value throws(ValueProblem) in
                guard case .integer(let number) = value else { throw .wrongType(expected: "an integer") }
                guard range.contains(number) else { throw .outOfRange("\(range.lowerBound)...\(range.upperBound)") }
                return number
            },
            encode: { .integer($0) },
            bareValue: nil)
    }

    /// Ring and buffer-ring sizes, which the kernel wants as powers of two.
    static func powerOfTwo(in range: ClosedRange<Int>) -> Self {
        let plain = integer(in: range)
        return ValueKind(
            summary: "a power of two, \(range.lowerBound)...\(range.upperBound)",
            decode: { value throws(ValueProblem) in
                let number = try plain.decode(value)
                guard number & (number - 1) == 0 else { throw .invalid("is not a power of two") }
                return number
            },
            encode: plain.encode,
            bareValue: nil)
    }

    /// A byte count, written as a size string ("4KiB") or as an integer number of bytes.
    static func size(in range: ClosedRange<Int>) -> Self {
        let rangeText = "\(ByteCountText.text(bytes: range.lowerBound))...\(ByteCountText.text(bytes: range.upperBound))"
        return ValueKind(
            summary: rangeText,
            decode: { value throws(ValueProblem) in
                let bytes: Int
                switch value {
                case .integer(let number):
                    bytes = number
                case .string(let text):
                    guard let parsed = ByteCountText.bytes(from: text) else {
                        throw .invalid("is not a size: expected \(ByteCountText.syntax)")
                    }
                    bytes = parsed
                default:
                    throw .wrongType(expected: "a size such as \"4KiB\"")
                }
                guard range.contains(bytes) else { throw .outOfRange(rangeText) }
                return bytes
            },
            encode: { .string(ByteCountText.text(bytes: $0)) },
            bareValue: { .string($0) })
    }
}

extension ValueKind where Value == Duration {
    /// A duration string such as "250ms".
    static func duration(in range: ClosedRange<Duration>) -> Self {
        let rangeText = "\(DurationText.text(for: range.lowerBound))...\(DurationText.text(for: range.upperBound))"
        return ValueKind(
            summary: rangeText,
            decode: { value throws(ValueProblem) in
                guard case .string(let text) = value else { throw .wrongType(expected: "a duration such as \"250ms\"") }
                guard let duration = DurationText.duration(from: text) else {
                    throw .invalid("is not a duration: expected \(DurationText.syntax)")
                }
                guard range.contains(duration) else { throw .outOfRange(rangeText) }
                return duration
            },
            encode: { .string(DurationText.text(for: $0)) },
            bareValue: { .string($0) })
    }
}

extension ValueKind where Value: CaseIterable & RawRepresentable<String> & Sendable {
    /// One of the enumeration's raw values, written as a string.
    static func choice(_ type: Value.Type) -> Self {
        let names = Value.allCases.map(\.rawValue)
        return ValueKind(
            summary: names.joined(separator: " | "),
            decode: { value throws(ValueProblem) in
                guard case .string(let text) = value else { throw .wrongType(expected: "a string") }
                guard let choice = Value(rawValue: text) else {
                    let suggestion = nearestName(to: text, among: names).map { " (did you mean \"\($0)\"?)" } ?? ""
                    throw .invalid("is not one of \(names.joined(separator: ", "))\(suggestion)")
                }
                return choice
            },
            encode: { .string($0.rawValue) },
            bareValue: { .string($0) })
    }
}

extension ValueKind where Value == WorkerCount {
    /// "auto" or a number of workers.
    static func workerCount(in range: ClosedRange<Int>) -> Self {
        let count = ValueKind<Int>.integer(in: range)
        return ValueKind(
            summary: "\"auto\" or \(range.lowerBound)...\(range.upperBound)",
            decode: { value throws(ValueProblem) in
                switch value {
                case .string("auto"): return .auto
                case .string: throw .invalid("is neither \"auto\" nor an integer")
                case .integer: return .count(try count.decode(value))
                default: throw .wrongType(expected: "\"auto\" or an integer")
                }
            },
            encode: { workers in
                switch workers {
                case .auto: .string("auto")
                case .count(let number): .integer(number)
                }
            },
            bareValue: { .string($0) })
    }
}

extension ValueKind where Value == FileMode {
    /// Permission bits written in octal as chmod(1) takes them, "0660"; no set-id or sticky bits.
    static var fileMode: Self {
        ValueKind(
            summary: "octal, \"0000\"...\"0777\"",
            decode: { value throws(ValueProblem) in
                guard case .string(let text) = value else { throw .wrongType(expected: "an octal mode such as \"0660\"") }
                guard let mode = FileMode(octal: text) else {
                    throw .invalid("is not a file mode: expected 3 or 4 octal digits up to \"0777\", such as \"0660\"")
                }
                return mode
            },
            encode: { .string($0.octal) },
            bareValue: { .string($0) })
    }
}

extension ValueKind where Value == String? {
    /// An absolute path for a Unix socket, or "" for none.
    static var optionalSocketPath: Self {
        ValueKind(
            summary: "an absolute path; \"\" = none",
            decode: { value throws(ValueProblem) in
                guard case .string(let text) = value else {
                    throw .wrongType(expected: "a path such as \"/run/ringd/control.sock\"")
                }
                if text.isEmpty { return nil }
                guard text.hasPrefix("/") else { throw .invalid("is not an absolute path") }
                guard text.utf8.count <= ListenAddress.maximumPathLength, !text.utf8.contains(0) else {
                    throw .invalid("is longer than the \(ListenAddress.maximumPathLength) bytes a Unix socket's path holds")
                }
                return text
            },
            encode: { .string($0 ?? "") },
            bareValue: { .string($0) })
    }
}

extension ValueKind where Value == [ListenAddress] {
    /// A non-empty array of distinct "HOST:PORT" or "unix:/PATH" strings. `--set` also takes one bare address.
    static var listenAddresses: Self {
        ValueKind(
            summary: nil,
            decode: { value throws(ValueProblem) in
                guard case .array(let elements) = value else {
                    throw .wrongType(expected: "an array of addresses such as [\"127.0.0.1:7000\"]")
                }
                guard !elements.isEmpty else { throw .invalid("is empty: expected at least one HOST:PORT or unix:/PATH") }
                guard elements.count <= 64 else { throw .invalid("has \(elements.count) addresses: at most 64") }
                var addresses: [ListenAddress] = []
                for (index, element) in elements.enumerated() {
                    guard case .string(let text) = element else {
                        throw .element(index, .wrongType(expected: "a string such as \"127.0.0.1:7000\""))
                    }
                    let address: ListenAddress
                    do {
                        address = try ListenAddress(parsing: text)
                    } catch {
                        throw .element(index, .invalid("is not an address: \(error)"))
                    }
                    if let earlier = addresses.firstIndex(of: address) {
                        throw .element(index, .invalid("repeats [\(earlier)] (\(addresses[earlier]))"))
                    }
                    addresses.append(address)
                }
                return addresses
            },
            encode: { addresses in .array(addresses.map { .string($0.description) }) },
            bareValue: { .array([.string($0)]) })
    }
}

extension ValueKind where Value == ListenAddress? {
    /// One "HOST:PORT" string, or "" for none.
    static var optionalListenAddress: Self {
        ValueKind(
            summary: nil,
            decode: { value throws(ValueProblem) in
                guard case .string(let text) = value else {
                    throw .wrongType(expected: "a string such as \"127.0.0.1:9464\", or \"\" for none")
                }
                guard !text.isEmpty else { return nil }
                do {
                    return try ListenAddress(parsing: text)
                } catch {
                    throw .invalid("is not an address: \(error)")
                }
            },
            encode: { .string($0?.description ?? "") },
            bareValue: { .string($0) })
    }
}

extension ValueKind where Value == MessageTemplate {
    /// A non-empty message with `{placeholder}`s, checked when the file is read: every
    /// placeholder must be one of `placeholders`, the ones the service fills for this message.
    /// Errors point at the offending brace inside the string.
    static func template(filling placeholders: [MessageTemplate.Placeholder]) -> Self {
        let names = placeholders.map { "{\($0.rawValue)}" }
        return ValueKind(
            summary: names.isEmpty ? "no placeholders" : "placeholders " + names.joined(separator: " "),
            decode: { value throws(ValueProblem) in
                guard case .string(let text) = value else { throw .wrongType(expected: "a string") }
                guard !text.isEmpty else { throw .invalid("is empty: a message needs at least one character") }
                return try MessageTemplate.checked(text, filling: placeholders)
            },
            encode: { .string($0.text) },
            bareValue: { .string($0) })
    }
}

extension ValueKind where Value == MessageTemplate? {
    /// A template as above, or "" for none.
    static func optionalTemplate(filling placeholders: [MessageTemplate.Placeholder]) -> Self {
        let present = ValueKind<MessageTemplate>.template(filling: placeholders)
        return ValueKind(
            summary: present.summary.map { $0 + "; \"\" = none" },
            decode: { value throws(ValueProblem) in
                if case .string("") = value { return nil }
                return try present.decode(value)
            },
            encode: { $0.map { .string($0.text) } ?? .string("") },
            bareValue: { .string($0) })
    }
}

extension MessageTemplate {
    /// Parses `text` and checks that it uses only `allowed` placeholders. A problem is reported
    /// at the 0-based offset of its brace in `text`, in Unicode scalars.
    fileprivate static func checked(_ text: String, filling allowed: [Placeholder]) throws(ValueProblem) -> MessageTemplate {
        let expected = "expected one of " + allowed.map { "{\($0.rawValue)}" }.joined(separator: ", ")
        do throws(ParseError) {
            return try MessageTemplate(parsing: text, allowing: Set(allowed))
        } catch {
            let message: String
            switch error.kind {
            case .unknownPlaceholder(let name):
                let suggestion = nearestName(to: name, among: allowed.map(\.rawValue)).map { " (did you mean {\($0)}?)" } ?? ""
                message = "unknown placeholder {\(name)}\(suggestion); \(expected)"
            case .notFilledHere:
                message = "\(error.message); \(expected)"
            case .unclosedPlaceholder, .unmatchedClosingBrace:
                message = error.message
            }
            throw .inString(offset: error.column - 1, .invalid("is not a valid message: \(message)"))
        }
    }
}

extension ValueKind where Value == [AddressRange] {
    /// An array of CIDR ranges ("10.0.0.0/8", "::1/128"); a bare address is a one-address range.
    static var addressRanges: Self {
        ValueKind(
            summary: nil,
            decode: { value throws(ValueProblem) in
                guard case .array(let elements) = value else {
                    throw .wrongType(expected: "an array of ranges such as [\"10.0.0.0/8\", \"::1\"]")
                }
                var ranges: [AddressRange] = []
                for (index, element) in elements.enumerated() {
                    guard case .string(let text) = element else {
                        throw .element(index, .wrongType(expected: "a string such as \"10.0.0.0/8\""))
                    }
                    do throws(AddressRangeError) {
                        ranges.append(try AddressRange(parsing: text))
                    } catch {
                        throw .element(index, .invalid("is not an address range: \(error.message)"))
                    }
                }
                return ranges
            },
            encode: { ranges in .array(ranges.map { .string($0.description) }) },
            bareValue: { .array([.string($0)]) })
    }
}

extension ValueKind where Value == RedisAddress? {
    /// "HOST:PORT", "unix:/path", or "" for none.
    static var optionalRedisAddress: Self {
        ValueKind(
            summary: nil,
            decode: { value throws(ValueProblem) in
                guard case .string(let text) = value else {
                    throw .wrongType(
                        expected: "a string such as \"127.0.0.1:6379\" or \"unix:/run/redis.sock\", or \"\" for none")
                }
                guard !text.isEmpty else { return nil }
                do throws(RedisAddressError) {
                    return try RedisAddress(parsing: text)
                } catch {
                    throw .invalid("is not a Redis address: \(error)")
                }
            },
            encode: { .string($0?.description ?? "") },
            bareValue: { .string($0) })
    }
}

extension ValueKind where Value == String {
    /// Text of at most `maximumBytes` UTF-8 bytes, empty only when `allowsEmpty`, and without
    /// control characters (a name or a key prefix that goes into Redis and into log lines).
    static func text(maximumBytes: Int, allowsEmpty: Bool) -> Self {
        ValueKind(
            summary: allowsEmpty ? "at most \(maximumBytes) bytes" : "1...\(maximumBytes) bytes",
            decode: { value throws(ValueProblem) in
                guard case .string(let text) = value else { throw .wrongType(expected: "a string") }
                guard allowsEmpty || !text.isEmpty else { throw .invalid("is empty") }
                guard text.utf8.count <= maximumBytes else {
                    throw .invalid("has \(text.utf8.count) bytes, over the \(maximumBytes) allowed")
                }
                if let control = text.unicodeScalars.firstIndex(where: { $0.value < 0x20 || $0.value == 0x7f }) {
                    let offset = text.unicodeScalars.distance(from: text.unicodeScalars.startIndex, to: control)
                    throw .inString(offset: offset, .invalid("contains a control character"))
                }
                return text
            },
            encode: { .string($0) },
            bareValue: { .string($0) })
    }
}
