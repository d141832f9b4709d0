// ByteWriter: appends bytes to memory the caller owns, so that rendering a reply allocates nothing.
//
// Every service in this module writes its output through a ByteWriter. The event loop owns the
// memory (the free tail of an output arena chunk, or a message rendered once when the
// configuration is read) and keeps reusing it; a writer is a cheap view over it that is made,
// filled, and read back with `written`.
//
// A write that does not fit writes nothing and marks the writer `overflowed`; every later write is
// then refused too, so the bytes that were written are always a prefix ending on a whole write.
// A message made of several writes records `count` first and ends with `commit(since:)`, which
// takes the whole message back if any part overflowed: output is whole messages or nothing.
// Services turn an overflow into an action (close, skip); nothing here traps on a full buffer.
//
//     let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
//     var writer = ByteWriter(storage)
//     writer.write("seq=")
//     writer.write(decimal: 42 as UInt64)
//     send(writer.written)   // "seq=42"

/// A cursor that appends bytes to caller-owned memory and never allocates.
public struct ByteWriter {
    /// The memory written into; it belongs to the caller and must outlive the writer.
    public let storage: UnsafeMutableRawBufferPointer
    /// Bytes written so far, from the start of `storage`.
    public private(set) var count: Int = 0
    /// A write did not fit. Later writes are refused until `reset()`.
    public private(set) var overflowed = false

    public init(_ storage: UnsafeMutableRawBufferPointer) {
        self.storage = storage
    }

    /// Bytes still free in `storage`.
    @inlinable public var remaining: Int { storage.count - count }

    /// The bytes written so far. Valid while `storage` is, until the next write or `reset()`.
    public var written: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: storage[0..<count])
    }

    /// The bytes written in `range` (a range recorded from `count` before and after a write).
    public func bytes(in range: Range<Int>) -> UnsafeRawBufferPointer {
        precondition(range.upperBound <= count, "range \(range) is beyond the \(count) bytes written")
        return UnsafeRawBufferPointer(rebasing: storage[range])
    }

    /// Forgets everything written, so the same memory can be filled again.
    public mutating func reset() {
        count = 0
        overflowed = false
    }

    /// Claims `byteCount` bytes at the end, or marks the writer overflowed and returns nil.
    @inline(__always)
    private mutating func reserve(_ byteCount: Int) -> UnsafeMutableRawPointer? {
        guard !overflowed, byteCount <= remaining else {
            overflowed = true
            return nil
        }
        guard byteCount > 0, let base = storage.baseAddress else { return nil }
        defer { count += byteCount }
        return base + count
    }

    /// True when `byteCount` more bytes fit; otherwise marks the writer overflowed. For output
    /// made of several writes that must go in whole or not at all.
    public mutating func claimRoom(for byteCount: Int) -> Bool {
        if overflowed || byteCount > remaining {
            overflowed = true
            return false
        }
        return true
    }

    /// Ends a message that began when `count` was `start`: returns true if it fit, and otherwise
    /// removes its bytes (the writer stays overflowed) and returns false.
    public mutating func commit(since start: Int) -> Bool {
        precondition(start <= count)
        if overflowed { count = start }
        return !overflowed
    }

    public mutating func write(_ byte: UInt8) {
        reserve(1)?.storeBytes(of: byte, as: UInt8.self)
    }

    public mutating func write(_ bytes: UnsafeRawBufferPointer) {
        // reserve returns nil for an empty write, so a non-nil target means a non-nil source.
        guard let target = reserve(bytes.count) else { return }
        target.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
    }

    /// Writes a literal's UTF-8 bytes.
    public mutating func write(_ text: StaticString) {
        precondition(text.hasPointerRepresentation, "a one-scalar StaticString has no UTF-8 bytes to copy")
        write(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Writes `value` in decimal, without leading zeros.
    public mutating func write(decimal value: UInt64) {
        let digits = decimalDigitCount(value)
        guard let target = reserve(digits) else { return }
        var value = value
        for index in stride(from: digits - 1, through: 0, by: -1) {
            target.storeBytes(of: UInt8(truncatingIfNeeded: value % 10) &+ UInt8(ascii: "0"), toByteOffset: index, as: UInt8.self)
            value /= 10
        }
    }

    /// Writes `value` in decimal, with a leading `-` when negative.
    public mutating func write(decimal value: Int64) {
        if value < 0 {
            guard claimRoom(for: 1 + decimalDigitCount(value.magnitude)) else { return }
            write(UInt8(ascii: "-"))
        }
        write(decimal: value.magnitude)
    }

    /// Writes `value` in decimal, padded with leading zeros to at least `width` digits.
    public mutating func write(decimal value: UInt64, zeroPaddedTo width: Int) {
        let digits = decimalDigitCount(value)
        if digits < width {
            guard claimRoom(for: width) else { return }
            for _ in digits..<width { write(UInt8(ascii: "0")) }
        }
        write(decimal: value)
    }

    /// Writes `value` in lowercase hexadecimal, without leading zeros.
    public mutating func write(hexadecimal value: UInt64) {
        let digits = max(1, (64 - value.leadingZeroBitCount + 3) / 4)
        guard let target = reserve(digits) else { return }
        for index in 0..<digits {
            let nibble = UInt8(truncatingIfNeeded: value >> UInt64(4 * (digits - 1 - index))) & 0xF
            let character = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
            target.storeBytes(of: character, toByteOffset: index, as: UInt8.self)
        }
    }
}

/// The number of decimal digits in `value` (1 for 0).
public func decimalDigitCount(_ value: UInt64) -> Int {
    var digits = 1
    var rest = value / 10
    while rest != 0 {
        digits += 1
        rest /= 10
    }
    return digits
}
