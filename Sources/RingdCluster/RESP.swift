// RESP, the protocol Redis and Valkey speak: what a decoded element is, the bounds a decoder
// keeps, and the errors it names. The decoder is in RESPDecoder.swift, the encoder in
// RESPEncoder.swift; neither does I/O or allocates per element.
//
// On the wire every element starts with a type byte and ends with CR LF:
//
//   +OK\r\n                        simple string        -ERR unknown\r\n     error
//   :42\r\n                        integer              $5\r\nhello\r\n        bulk string
//   $-1\r\n                        null bulk string     *2\r\n...            array of 2 elements
//   *-1\r\n                        null array
//
// and, in RESP3 (after `HELLO 3`), `_` null, `#t`/`#f` boolean, `,` double, `(` big number,
// `!` bulk error, `=` verbatim string (`txt:` and the text), `%` map (count pairs), `~` set and
// `>` push (pub/sub messages on a connection that also takes commands). Attributes (`|`) and
// streamed strings and aggregates (`$?`, `*?`) are refused as protocol errors: Redis sends
// them only to a client that asks for them, and ringd never asks.

/// The bounds a decoder enforces. Redis's bytes are input like any other: past a bound the
/// decoder names a protocol error, it never allocates or waits for more.
public struct RESPLimits: Sendable, Equatable {
    /// The deepest nesting of aggregates the decoder keeps track of, whatever the limits say.
    public static let depthCapacity = 32

    /// The longest bulk string (and bulk error, verbatim string) accepted, in bytes. The caller's
    /// read buffer must hold this much plus its header and CR LF, since a bulk string is handed
    /// out whole, in place.
    public var maximumBulkLength: Int
    /// The most elements an array, set or push holds, and twice the most pairs a map holds.
    public var maximumAggregateCount: Int
    /// The most aggregates one inside another, the outermost counting 1; at most `depthCapacity`.
    public var maximumDepth: Int
    /// The longest line (a simple string, an error, an integer, a header), CR LF not counted.
    public var maximumLineLength: Int

    /// 1 MiB bulk strings, 65,536 elements, 8 levels, 64 KiB lines: far more than any reply to
    /// the commands ringd sends, far less than a misbehaving peer could make a client hold.
    public static let standard = RESPLimits(
        maximumBulkLength: 1 << 20, maximumAggregateCount: 1 << 16, maximumDepth: 8, maximumLineLength: 64 << 10)

    public init(maximumBulkLength: Int, maximumAggregateCount: Int, maximumDepth: Int, maximumLineLength: Int) {
        precondition(maximumBulkLength >= 0 && maximumAggregateCount >= 0 && maximumLineLength >= 1)
        precondition((1...Self.depthCapacity).contains(maximumDepth), "maximumDepth is 1...\(Self.depthCapacity)")
        self.maximumBulkLength = maximumBulkLength
        self.maximumAggregateCount = maximumAggregateCount
        self.maximumDepth = maximumDepth
        self.maximumLineLength = maximumLineLength
    }
}

/// One decoded element. Byte payloads point into the window the decoder was given and are valid
/// as long as it is. An aggregate is its header; its `count` elements (twice that for a map:
/// key, value, key, value...) follow as the next elements.
public enum RESPElement {
    case simpleString(UnsafeRawBufferPointer)
    case error(UnsafeRawBufferPointer)
    case integer(Int64)
    /// nil for the null bulk string `$-1`.
    case bulkString(UnsafeRawBufferPointer?)
    /// nil for the null array `*-1`.
    case array(count: Int?)
    /// RESP3 `_`.
    case null
    case boolean(Bool)
    /// RESP3 `,`: the number's text as sent (`1.5`, `inf`, `-nan`), not checked.
    case double(UnsafeRawBufferPointer)
    /// RESP3 `(`: the number's text as sent, not checked.
    case bigNumber(UnsafeRawBufferPointer)
    case bulkError(UnsafeRawBufferPointer)
    /// RESP3 `=`: a three-byte format (`txt`, `mkd`) and the text after its colon.
    case verbatimString(format: UnsafeRawBufferPointer, text: UnsafeRawBufferPointer)
    /// `count` key-value pairs follow: 2 * count elements.
    case map(count: Int)
    case set(count: Int)
    /// An out-of-band message (pub/sub in RESP3); `count` elements follow.
    case push(count: Int)
}

/// Bytes that are not RESP, or RESP past a bound. After one, the stream cannot be trusted: the
/// decoder keeps throwing it until `reset()`, and the connection should be reset.
public struct RESPProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// A byte that starts no RESP element (or one ringd does not take: `|` attributes).
        case unknownType(UInt8)
        /// A CR not followed by LF inside a line.
        case bareCarriageReturn
        /// An LF without a CR before it.
        case bareLineFeed
        /// A line longer than `maximumLineLength` (at the first byte past the limit).
        case lineTooLong
        /// An integer that is not `[+|-]digits` or does not fit 64 bits.
        case malformedInteger
        /// A length or count that is neither digits nor the `-1` of a null.
        case malformedLength
        case bulkTooLong(Int)
        case aggregateTooLong(Int)
        /// An aggregate nested deeper than `maximumDepth`.
        case nestedTooDeep
        /// A bulk payload not followed by CR LF.
        case missingTerminator
        /// `_` with content, `#` other than t or f, `=` without its `xxx:` format.
        case malformedValue
    }

    public let kind: Kind
    /// Where in the stream the problem shows, counting from the decoder's first byte: the
    /// element's type byte for a bad header or value, the offending byte for a line error,
    /// the byte where CR LF should follow a bulk payload.
    public let offset: Int

    public init(_ kind: Kind, at offset: Int) {
        self.kind = kind
        self.offset = offset
    }

    public var description: String {
        let what: String =
            switch kind {
            case .unknownType(let byte): "no RESP element starts with byte 0x\(String(byte, radix: 16))"
            case .bareCarriageReturn: "a CR not followed by LF"
            case .bareLineFeed: "an LF without a CR before it"
            case .lineTooLong: "a line longer than the limit"
            case .malformedInteger: "a malformed or out-of-range integer"
            case .malformedLength: "a malformed length"
            case .bulkTooLong(let length): "a bulk string of \(length) bytes, over the limit"
            case .aggregateTooLong(let count): "an aggregate of \(count) elements, over the limit"
            case .nestedTooDeep: "aggregates nested deeper than the limit"
            case .missingTerminator: "a bulk string not followed by CR LF"
            case .malformedValue: "a malformed null, boolean or verbatim string"
            }
        return "RESP protocol error at byte \(offset): \(what)"
    }
}
