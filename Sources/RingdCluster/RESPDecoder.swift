// RESPDecoder: turns the bytes Redis sends into RESP elements, one at a time, in place.
//
// The caller owns the bytes: it hands the decoder a window (what it has received and not yet
// consumed) and a position in it. `next` returns the element that starts at `position` and moves
// `position` past it, or returns nil, moving nothing, when the window ends inside that element:
// "need more bytes". The caller then keeps the bytes from `position` on, appends what it
// receives next, and calls again with the same unconsumed bytes at the front; a line the decoder
// has scanned is not scanned again. Nothing is copied: strings point into the window.
//
//     var position = 0
//     while let element = try decoder.next(in: received, position: &position) {
//         ...                       // element's bytes are valid while `received` is
//     }
//     // keep received[position...] for the next read
//
// Aggregates come as their header (`.array(count: 3)`) followed by their elements, so nesting
// costs no memory beyond a fixed stack of counts; `depth` says how many aggregates are open, and
// is 0 when a top-level value (a whole reply) has ended. A caller that wants a reply whole or not
// at all copies the decoder and the position before the reply's first element and puts both
// back when `next` returns nil: the decoder is a plain value of a few hundred bytes, with no
// reference inside, so a copy costs nothing and allocates nothing.
//
// Every bound in `RESPLimits` is checked as soon as the bytes show it is passed (a bulk length
// from its header, before its payload arrives; a line at the first byte past the limit), so a
// caller whose window holds `limits.maximumElementCount` bytes always makes progress, and a
// misbehaving peer meets a named `RESPProtocolError` with the stream offset of the problem.

/// The incremental RESP decoder; see the file comment.
public struct RESPDecoder: Sendable {
    public let limits: RESPLimits
    /// Aggregates whose elements have not all been decoded: 0 between top-level values.
    public private(set) var depth = 0
    /// Bytes decoded since the start or the last `reset()`: the stream offset of the next element.
    public private(set) var decodedCount = 0
    /// Elements still to come in each open aggregate, outermost first.
    private var remaining = OpenAggregates()
    /// Content bytes of the pending element's first line already scanned without finding CR LF.
    private var scannedCount = 0
    /// The error that ended the stream; thrown again by every call until `reset()`.
    private var failure: RESPProtocolError?

    public init(limits: RESPLimits = .standard) {
        self.limits = limits
    }

    /// Forgets the stream, for a new connection.
    public mutating func reset() {
        depth = 0
        decodedCount = 0
        scannedCount = 0
        failure = nil
    }

    /// The element at `position` in `window`, moving `position` past it; nil when the window
    /// ends inside it. Throws the first protocol error, and then keeps throwing it.
    public mutating func next(in window: UnsafeRawBufferPointer, position: inout Int) throws(RESPProtocolError) -> RESPElement? {
        precondition(position >= 0 && position <= window.count, "position \(position) is outside a window of \(window.count)")
        if let failure { throw failure }
        let decoded: (element: RESPElement, length: Int)?
        do {
            decoded = try element(in: UnsafeRawBufferPointer(rebasing: window[position...]))
        } catch {
            failure = error
            throw error
        }
        guard let decoded else { return nil }
        position += decoded.length
        decodedCount += decoded.length
        scannedCount = 0
        account(for: decoded.element)
        return decoded.element
    }

    /// The element at the start of `bytes` and the bytes it takes, or nil if it is incomplete.
    private mutating func element(in bytes: UnsafeRawBufferPointer) throws(RESPProtocolError) -> (RESPElement, Int)? {
        guard let type = bytes.first else { return nil }
        guard RESPType.isKnown(type) else { throw error(.unknownType(type), at: 0) }
        guard let lineEnd = try lineEnd(in: bytes) else { return nil }
        let content = UnsafeRawBufferPointer(rebasing: bytes[1..<lineEnd])
        let lineLength = lineEnd + 2
        switch type {
        case RESPType.simpleString:
            return (.simpleString(content), lineLength)
        case RESPType.error:
            return (.error(content), lineLength)
        case RESPType.integer:
            guard let value = Self.integer(content) else { throw error(.malformedInteger, at: 0) }
            return (.integer(value), lineLength)
        case RESPType.bulkString, RESPType.bulkError, RESPType.verbatimString:
            return try bulk(type, header: content, in: bytes, payloadStart: lineLength)
        case RESPType.array, RESPType.map, RESPType.set, RESPType.push:
            return (try aggregate(type, header: content), lineLength)
        case RESPType.null:
            guard content.isEmpty else { throw error(.malformedValue, at: 0) }
            return (.null, lineLength)
        case RESPType.boolean:
            guard content.count == 1, content[0] == UInt8(ascii: "t") || content[0] == UInt8(ascii: "f") else {
                throw error(.malformedValue, at: 0)
            }
            return (.boolean(content[0] == UInt8(ascii: "t")), lineLength)
        case RESPType.double:
            return (.double(content), lineLength)
        default:
            return (.bigNumber(content), lineLength)
        }
    }

    /// The index of the CR that ends the element's first line, or nil if it has not arrived.
    private mutating func lineEnd(in bytes: UnsafeRawBufferPointer) throws(RESPProtocolError) -> Int? {
        var index = 1 + scannedCount
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\r") {
                if index + 1 == bytes.count { break }  // its LF has not arrived
                guard bytes[index + 1] == UInt8(ascii: "\n") else { throw error(.bareCarriageReturn, at: index) }
                return index
            }
            if byte == UInt8(ascii: "\n") { throw error(.bareLineFeed, at: index) }
            // Content byte number index - 1, counting from 0.
            guard index - 1 < limits.maximumLineLength else { throw error(.lineTooLong, at: index) }
            index += 1
        }
        scannedCount = index - 1
        return nil
    }

    /// A bulk string, bulk error or verbatim string whose header line has arrived.
    private func bulk(
        _ type: UInt8, header: UnsafeRawBufferPointer, in bytes: UnsafeRawBufferPointer, payloadStart: Int
    ) throws(RESPProtocolError) -> (RESPElement, Int)? {
        guard let length = Self.length(header) else { throw error(.malformedLength, at: 0) }
        if length == -1 {
            guard type == RESPType.bulkString else { throw error(.malformedLength, at: 0) }
            return (.bulkString(nil), payloadStart)
        }
        guard length <= limits.maximumBulkLength else { throw error(.bulkTooLong(length), at: 0) }
        let payloadEnd = payloadStart + length
        guard bytes.count >= payloadEnd + 2 else { return nil }
        guard bytes[payloadEnd] == UInt8(ascii: "\r"), bytes[payloadEnd + 1] == UInt8(ascii: "\n") else {
            throw error(.missingTerminator, at: payloadEnd)
        }
        let payload = UnsafeRawBufferPointer(rebasing: bytes[payloadStart..<payloadEnd])
        switch type {
        case RESPType.bulkString:
            return (.bulkString(payload), payloadEnd + 2)
        case RESPType.bulkError:
            return (.bulkError(payload), payloadEnd + 2)
        default:
            guard length >= 4, payload[3] == UInt8(ascii: ":") else { throw error(.malformedValue, at: 0) }
            let format = UnsafeRawBufferPointer(rebasing: payload[0..<3])
            return (.verbatimString(format: format, text: UnsafeRawBufferPointer(rebasing: payload[4...])), payloadEnd + 2)
        }
    }

    /// An aggregate's header: its count checked against the limits and the nesting.
    private func aggregate(_ type: UInt8, header: UnsafeRawBufferPointer) throws(RESPProtocolError) -> RESPElement {
        guard let count = Self.length(header) else { throw error(.malformedLength, at: 0) }
        guard count >= 0 || type == RESPType.array else { throw error(.malformedLength, at: 0) }
        guard depth < limits.maximumDepth else { throw error(.nestedTooDeep, at: 0) }
        // A map's pairs are two elements each; a count that large saturates, as lengths do.
        let elements = type == RESPType.map ? (count > Int.max / 2 ? Int.max : 2 * count) : count
        guard elements <= limits.maximumAggregateCount else { throw error(.aggregateTooLong(elements), at: 0) }
        switch type {
        case RESPType.array: return .array(count: count == -1 ? nil : count)
        case RESPType.map: return .map(count: count)
        case RESPType.set: return .set(count: count)
        default: return .push(count: count)
        }
    }

    /// Keeps the counts of open aggregates: a non-empty aggregate opens, any other element
    /// counts towards the aggregates it completes.
    private mutating func account(for element: RESPElement) {
        let elements: Int? =
            switch element {
            case .array(let count): count ?? 0
            case .map(let count): 2 * count
            case .set(let count), .push(let count): count
            default: nil
            }
        if let elements, elements > 0 {
            remaining[depth] = elements
            depth += 1
            return
        }
        while depth > 0 {
            remaining[depth - 1] -= 1
            if remaining[depth - 1] > 0 { return }
            depth -= 1  // that aggregate is complete: one element of the one around it
        }
    }

    private func error(_ kind: RESPProtocolError.Kind, at relativeOffset: Int) -> RESPProtocolError {
        RESPProtocolError(kind, at: decodedCount + relativeOffset)
    }

    /// `[+|-]digits` within 64 bits, or nil.
    static func integer(_ text: UnsafeRawBufferPointer) -> Int64? {
        let negative = text.first == UInt8(ascii: "-")
        let digits = text.first == UInt8(ascii: "-") || text.first == UInt8(ascii: "+") ? text.dropFirst() : text[...]
        guard !digits.isEmpty else { return nil }
        var value: Int64 = 0
        for byte in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            let digit = Int64(byte - UInt8(ascii: "0"))
            // Accumulated negatively, so that Int64.min fits.
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            let (next, overflowAgain) = shifted.subtractingReportingOverflow(digit)
            guard !overflow, !overflowAgain else { return nil }
            value = next
        }
        if negative { return value }
        return value == .min ? nil : -value
    }

    /// A length or count: digits (saturating at Int.max, which any limit refuses) or the `-1`
    /// of a null; nil for anything else.
    static func length(_ text: UnsafeRawBufferPointer) -> Int? {
        if text.count == 2 && text[0] == UInt8(ascii: "-") && text[1] == UInt8(ascii: "1") { return -1 }
        guard !text.isEmpty else { return nil }
        var value = 0
        for byte in text {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowAgain) = shifted.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            value = overflow || overflowAgain ? .max : sum
        }
        return value
    }
}

extension RESPLimits {
    /// The most bytes one element takes on the wire: a window this large always holds a whole
    /// element, so a caller that keeps one never waits for bytes that cannot fit.
    public var maximumElementCount: Int { 1 + maximumLineLength + 2 + maximumBulkLength + 2 }
}

/// The first byte of each element.
enum RESPType {
    static let simpleString = UInt8(ascii: "+")
    static let error = UInt8(ascii: "-")
    static let integer = UInt8(ascii: ":")
    static let bulkString = UInt8(ascii: "$")
    static let array = UInt8(ascii: "*")
    static let null = UInt8(ascii: "_")
    static let boolean = UInt8(ascii: "#")
    static let double = UInt8(ascii: ",")
    static let bigNumber = UInt8(ascii: "(")
    static let bulkError = UInt8(ascii: "!")
    static let verbatimString = UInt8(ascii: "=")
    static let map = UInt8(ascii: "%")
    static let set = UInt8(ascii: "~")
    static let push = UInt8(ascii: ">")

    static func isKnown(_ byte: UInt8) -> Bool {
        switch byte {
        case simpleString, error, integer, bulkString, array, null, boolean, double, bigNumber, bulkError, verbatimString,
            map, set, push:
            true
        default:
            false
        }
    }
}

/// The element counts of up to `RESPLimits.depthCapacity` open aggregates, stored inline so
/// that the decoder stays a plain value that copies for free.
private struct OpenAggregates: Sendable {
    private var counts:
        (
            Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int,
            Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int
        ) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    subscript(level: Int) -> Int {
        get {
            precondition(level >= 0 && level < RESPLimits.depthCapacity)
            return withUnsafeBytes(of: counts) { $0.load(fromByteOffset: level * MemoryLayout<Int>.stride, as: Int.self) }
        }
        set {
            precondition(level >= 0 && level < RESPLimits.depthCapacity)
            withUnsafeMutableBytes(of: &counts) {
                $0.storeBytes(of: newValue, toByteOffset: level * MemoryLayout<Int>.stride, as: Int.self)
            }
        }
    }
}
