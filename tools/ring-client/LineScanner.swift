// LineScanner: finds `seq=N`, `time=T` and `from=N` fields in lines as their bytes arrive, so
// a line split across two receive buffers needs no copy and no allocation.
//
// A field is a key at the start of the line or after a separator (space, tab, `,`, `;`, `:`,
// brackets, quotes), then `=`, then a number; if a key appears twice in a line, the last one
// counts. `time` may be
//   seconds with a fraction       1732212345.123456    (ringd's {time})
//   or an integer in s, ms, us or ns since the Unix epoch, told apart by its size:
//   < 1e11 seconds, < 1e14 milliseconds, < 1e17 microseconds, otherwise nanoseconds.

struct LineFields {
    var seq: UInt64 = 0
    var hasSeq = false
    var from: UInt64 = 0
    var hasFrom = false
    /// Nanoseconds since the Unix epoch.
    var time: UInt64 = 0
    var hasTime = false
}

struct LineScanner {
    private enum Key: UInt8 { case none, seq, time, from }

    /// The fields of the line that ended last.
    private(set) var fields = LineFields()
    private var current = LineFields()
    private var atBoundary = true
    /// Up to 8 key bytes packed little-endian; 0xFF in `keyLength` means "not a key".
    private var keyBytes: UInt64 = 0
    private var keyLength: UInt8 = 0
    private var valueKey = Key.none
    private var integer: UInt64 = 0
    private var fraction: UInt64 = 0
    private var fractionDigits: Int = 0
    private var inFraction = false
    private var valueDigits = 0

    private static let seqKey = LineScanner.pack("seq")
    private static let timeKey = LineScanner.pack("time")
    private static let fromKey = LineScanner.pack("from")

    private static func pack(_ text: StaticString) -> UInt64 {
        var packed: UInt64 = 0
        text.withUTF8Buffer { for (index, byte) in $0.enumerated() { packed |= UInt64(byte) << (8 * index) } }
        return packed
    }

    /// Feeds `length` bytes; calls `onLine` with each line's fields as its `\n` arrives.
    @inline(__always)
    mutating func scan(_ bytes: UnsafeRawPointer, length: Int, onLine: (LineFields) -> Void) {
        let text = bytes.assumingMemoryBound(to: UInt8.self)
        for index in 0..<length { if feed(text[index]) { onLine(fields) } }
    }

    /// One byte; true when it ended a line (its fields are then in `fields`).
    @inline(__always)
    mutating func feed(_ byte: UInt8) -> Bool {
        if valueKey != .none {
            if byte >= 48 && byte <= 57 {
                if inFraction {
                    if fractionDigits < 9 { fraction = fraction * 10 + UInt64(byte - 48); fractionDigits += 1 }
                } else if valueDigits < 19 {
                    integer = integer * 10 + UInt64(byte - 48)
                }
                valueDigits += 1
                return false
            }
            if byte == UInt8(ascii: ".") && valueKey == .time && !inFraction {
                inFraction = true
                return false
            }
            endValue()
        }
        if byte == UInt8(ascii: "\n") {
            fields = current
            current = LineFields()
            atBoundary = true
            keyLength = 0
            return true
        }
        if LineScanner.isSeparator(byte) {
            atBoundary = true
            keyLength = 0
            return false
        }
        if byte == UInt8(ascii: "=") {
            if keyLength > 0 && keyLength != 0xFF {
                switch keyBytes {
                case LineScanner.seqKey: startValue(.seq)
                case LineScanner.timeKey: startValue(.time)
                case LineScanner.fromKey: startValue(.from)
                default: break
                }
            }
            keyLength = 0xFF
            atBoundary = false
            return false
        }
        if atBoundary {
            atBoundary = false
            keyBytes = UInt64(byte)
            keyLength = 1
        } else if keyLength != 0xFF {
            if keyLength < 8 {
                keyBytes |= UInt64(byte) << (8 * UInt64(keyLength))
                keyLength += 1
            } else {
                keyLength = 0xFF
            }
        }
        return false
    }

    private static func isSeparator(_ byte: UInt8) -> Bool {
        switch byte {
        case 32, 9, 13, UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"),
             UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "\""), UInt8(ascii: "'"):
            true
        default:
            false
        }
    }

    private mutating func startValue(_ key: Key) {
        valueKey = key
        integer = 0
        fraction = 0
        fractionDigits = 0
        inFraction = false
        valueDigits = 0
    }

    private mutating func endValue() {
        defer { valueKey = .none }
        guard valueDigits > 0 else { return }
        switch valueKey {
        case .seq:
            current.seq = integer
            current.hasSeq = true
        case .from:
            current.from = integer
            current.hasFrom = true
        case .time:
            current.time = LineScanner.nanosecondsSinceEpoch(integer: integer, fraction: fraction,
                                                             fractionDigits: fractionDigits, hasPoint: inFraction)
            current.hasTime = true
        case .none:
            break
        }
    }

    static func nanosecondsSinceEpoch(integer: UInt64, fraction: UInt64, fractionDigits: Int, hasPoint: Bool) -> UInt64 {
        if hasPoint {
            var scale: UInt64 = 1
            for _ in fractionDigits..<9 { scale *= 10 }
            return integer &* 1_000_000_000 &+ fraction &* scale
        }
        switch integer {
        case ..<100_000_000_000: return integer &* 1_000_000_000
        case ..<100_000_000_000_000: return integer &* 1_000_000
        case ..<100_000_000_000_000_000: return integer &* 1_000
        default: return integer
        }
    }
}
