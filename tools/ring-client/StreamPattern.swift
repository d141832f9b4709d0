// StreamPattern: the bytes `bench echo` sends, chosen so that any loss, duplication, reordering
// or insertion in an echoed stream is caught.
//
// Byte p of every connection's stream is table[p % period], where the table holds printable
// pseudo-random bytes and the period is a prime (65521). Because the pattern follows the position
// in the stream, not in a message, a lost or repeated message shifts everything after it and
// the next byte compared differs (with probability 93/94 per byte). The table is stored with
// `maximumChunk` extra bytes wrapped around, so any chunk of up to that length starting at any
// position is one contiguous range: one send and one memcmp per chunk, no copying.

#if canImport(Glibc)
import Glibc
#endif

final class StreamPattern: @unchecked Sendable {
    static let period = 65521
    /// The longest send or received buffer compared in one piece.
    static let maximumChunk = 65536

    /// period + maximumChunk bytes, written once in init and only read afterwards (shared by
    /// every worker thread, hence @unchecked Sendable).
    let bytes: UnsafeMutablePointer<UInt8>

    init() {
        let length = StreamPattern.period + StreamPattern.maximumChunk
        bytes = .allocate(capacity: length)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for position in 0..<StreamPattern.period {
            // xorshift64*: cheap, and far from periodic within 65521 steps.
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            let random = state &* 0x2545_F491_4F6C_DD1D
            bytes[position] = UInt8(33 + (random >> 32) % 94)   // '!' ... '~'
        }
        for position in StreamPattern.period..<length {
            bytes[position] = bytes[position - StreamPattern.period]
        }
    }

    deinit { bytes.deallocate() }

    /// Where stream position `position` starts in `bytes`.
    @inline(__always)
    func start(at position: UInt64) -> UnsafeMutablePointer<UInt8> {
        bytes + Int(position % UInt64(StreamPattern.period))
    }

    /// The index of the first byte of `received` (which arrived at stream `position`) that
    /// differs from the pattern, or nil when all match. `length` must not exceed maximumChunk.
    @inline(__always)
    func firstMismatch(in received: UnsafeRawPointer, length: Int, at position: UInt64) -> Int? {
        let expected = start(at: position)
        if memcmp(received, expected, length) == 0 { return nil }
        let actual = received.assumingMemoryBound(to: UInt8.self)
        for index in 0..<length where actual[index] != expected[index] { return index }
        return nil
    }
}

/// `0x41 'A'`, for error messages about a single byte.
func describeByte(_ byte: UInt8) -> String {
    let hex = String(byte, radix: 16)
    let padded = hex.count < 2 ? "0" + hex : hex
    if byte >= 32 && byte < 127 { return "0x\(padded) '\(Character(Unicode.Scalar(byte)))'" }
    return "0x\(padded)"
}
