// LineFramer: splits a connection's byte stream into lines, whatever the read boundaries.
//
// A line is the bytes up to and including "\n", exactly as received: a CR before the LF stays
// part of the line, and NUL bytes are ordinary bytes. The Perl echo server replies with `$_`,
// which is the line with its terminator as received, so a client that sends CRLF gets CRLF
// back; `Line.content` gives the line without "\n" and without a CR right before it, for
// services that reformat (the relay, the access log). An empty line ("\n") is a line.
//
// The framer is bounded. `maxLine` is the longest line accepted, counting every byte before the
// "\n" (a CR included). A longer line yields `.lineTooLong` as soon as it is known, even before
// its "\n" arrives, and the framer then stops: the server sends an error line and closes. The
// framer holds at most `maxLine + 1` bytes (a partial line and its "\n"); it allocates that
// buffer lazily, doubling from 256 bytes, only when a read ends inside a line, and keeps it, so
// steady-state use allocates nothing. `reset()` readies the framer for the next connection on the
// same slot and keeps a buffer of up to `retainedCapacity` bytes: a server whose clients send
// short lines in pieces stops allocating once each slot has been used, and the memory kept for
// idle slots stays small whatever `maxLine` is.
//
// Lines that lie wholly inside one read are handed out in place, pointing into the caller's input
// (no copy). Only a line split across reads is copied, into the framer's own buffer.
//
// Pull, without closures:
//
//     var position = 0
//     while let event = framer.next(in: received, position: &position) {
//         switch event {
//         case .line(let line): ...        // valid until the next call on this framer
//         case .lineTooLong: ...           // reply with an error line, then close
//         }
//     }
//     // at end of stream, a last line without "\n" (the Perl server echoes it too):
//     if case .line(let last)? = framer.finish() { ... }
//
// The framer is ~Copyable because it owns its buffer; a worker keeps one per connection slot in a
// preallocated UnsafeMutablePointer<LineFramer> region, reset when a connection closes.

/// One line, as a view into memory the framer or the caller owns.
public struct Line {
    /// The line with its terminator as received ("\n", "\r\n", or none for a last line at end
    /// of stream). Valid until the next call on the framer, and while the input it came from is.
    public let bytes: UnsafeRawBufferPointer

    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// How the line ended.
    public enum Terminator: Sendable, Equatable {
        /// A last line at end of stream, with no "\n".
        case none
        case lineFeed
        case carriageReturnLineFeed
    }

    public var terminator: Terminator {
        guard let last = bytes.last, last == UInt8(ascii: "\n") else { return .none }
        return bytes.count >= 2 && bytes[bytes.count - 2] == UInt8(ascii: "\r") ? .carriageReturnLineFeed : .lineFeed
    }

    /// The line without its terminator.
    public var content: UnsafeRawBufferPointer {
        let terminatorLength =
            switch terminator {
            case .none: 0
            case .lineFeed: 1
            case .carriageReturnLineFeed: 2
            }
        return UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - terminatorLength)])
    }
}

/// Turns reads into lines; see the file comment.
public struct LineFramer: ~Copyable {
    public enum Event {
        /// A complete line; see `Line` for how long its bytes stay valid.
        case line(Line)
        /// A line is longer than `maxLine`. Reported once; the framer then ignores all input.
        case lineTooLong
    }

    /// The longest line accepted, in bytes before the "\n".
    public let maxLine: Int
    /// Holds a line that continues past the end of a read. Nil until the first such read.
    private var partial: UnsafeMutableRawBufferPointer?
    /// Bytes of a partial line held in `partial`.
    public private(set) var bufferedCount = 0
    /// A line was too long; everything after is ignored.
    public private(set) var failed = false

    /// The first buffer allocated for a partial line; it doubles up to `maxLine + 1`.
    static let initialCapacity = 256
    /// The largest buffer `reset()` keeps for the next connection.
    public static let retainedCapacity = 4096

    public init(maxLine: Int) {
        precondition(maxLine >= 1 && maxLine <= Int(Int32.max), "maxLine must be 1 byte to 2 GiB")
        self.maxLine = maxLine
    }

    deinit {
        partial?.deallocate()
    }

    /// Bytes of memory the framer holds; never more than `maxLine + 1`.
    public var reservedCount: Int { partial?.count ?? 0 }

    /// The next line in `input` from `position`, which advances past what was used. Returns nil
    /// when `input` is used up: a line it ends inside of is kept for the next call.
    public mutating func next(in input: UnsafeRawBufferPointer, position: inout Int) -> Event? {
        precondition(position >= 0 && position <= input.count)
        if failed {
            position = input.count
            return nil
        }
        let rest = UnsafeRawBufferPointer(rebasing: input[position...])
        guard !rest.isEmpty else { return nil }
        if let newline = firstIndex(of: UInt8(ascii: "\n"), in: rest) {
            let lineBytes = UnsafeRawBufferPointer(rebasing: rest[...newline])
            guard bufferedCount + newline <= maxLine else { return fail(&position, input) }
            position += newline + 1
            if bufferedCount == 0 { return .line(Line(lineBytes)) }
            // The line began in an earlier read: complete it in the framer's buffer.
            append(lineBytes)
            return .line(Line(takeBuffered()))
        }
        guard bufferedCount + rest.count <= maxLine else { return fail(&position, input) }
        append(rest)
        position = input.count
        return nil
    }

    /// Empties the framer for a new stream, as if new, but keeps a buffer of up to
    /// `retainedCapacity` bytes so that the next stream's partial lines need no allocation.
    public mutating func reset() {
        bufferedCount = 0
        failed = false
        if let buffer = partial, buffer.count > Self.retainedCapacity {
            buffer.deallocate()
            partial = nil
        }
    }

    /// The end of the stream: a last line that has no "\n", if any. Afterwards the framer is empty.
    public mutating func finish() -> Event? {
        guard !failed, bufferedCount > 0 else { return nil }
        return .line(Line(takeBuffered()))
    }

    private mutating func fail(_ position: inout Int, _ input: UnsafeRawBufferPointer) -> Event {
        failed = true
        bufferedCount = 0
        position = input.count
        return .lineTooLong
    }

    /// The buffered line, leaving the framer empty. The bytes stay in place until the next append.
    private mutating func takeBuffered() -> UnsafeRawBufferPointer {
        defer { bufferedCount = 0 }
        return UnsafeRawBufferPointer(rebasing: partial![0..<bufferedCount])
    }

    private mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let needed = bufferedCount + bytes.count
        assert(needed <= maxLine + 1, "a partial line never exceeds maxLine plus its newline")
        if needed > reservedCount { grow(toHold: needed) }
        UnsafeMutableRawBufferPointer(rebasing: partial![bufferedCount..<needed]).copyMemory(from: bytes)
        bufferedCount = needed
    }

    private mutating func grow(toHold needed: Int) {
        var capacity = max(reservedCount, min(Self.initialCapacity, maxLine + 1))
        while capacity < needed { capacity = min(capacity * 2, maxLine + 1) }
        let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
        if let old = partial {
            larger.copyMemory(from: UnsafeRawBufferPointer(rebasing: old[0..<bufferedCount]))
            old.deallocate()
        }
        partial = larger
    }
}

/// The index of the first `byte` in `buffer`, eight bytes at a time.
@inline(__always)
func firstIndex(of byte: UInt8, in buffer: UnsafeRawBufferPointer) -> Int? {
    guard let base = buffer.baseAddress else { return nil }
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highBits: UInt64 = 0x8080_8080_8080_8080
    let pattern = UInt64(byte) &* ones
    var index = 0
    while index + 8 <= buffer.count {
        // A byte of `word` is zero where the input equals `byte`. The expression below sets the
        // high bit of the lowest such byte exactly (higher ones may be false positives, which the
        // lowest set bit ignores). Loading as little-endian puts the first byte lowest.
        let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self)) ^ pattern
        let zeroBytes = (word &- ones) & ~word & highBits
        if zeroBytes != 0 { return index + zeroBytes.trailingZeroBitCount / 8 }
        index += 8
    }
    while index < buffer.count {
        if base.load(fromByteOffset: index, as: UInt8.self) == byte { return index }
        index += 1
    }
    return nil
}
