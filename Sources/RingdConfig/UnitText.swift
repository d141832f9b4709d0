// Sizes and durations as configuration files write them: strings with an integer and a unit.
//
// TOML has no units, so "64KiB" and "250ms" are TOML strings that the schema interprets. Only
// integers are accepted (no "1.5s"): what a file says is then exactly what ringd uses.

/// Byte counts written as `512`, `512B`, `4KiB`, `1MiB` or `2GiB` (binary multiples only, so
/// `4KB` is an error rather than a guess).
enum ByteCountText {
    /// Largest first, so that rendering picks the largest unit that divides exactly.
    static let units: [(suffix: String, bytes: Int)] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)]

    /// What a size must look like, for messages.
    static let syntax = "an integer with B, KiB, MiB or GiB, such as \"4KiB\""

    /// The number of bytes `text` stands for; nil when it is not a size or does not fit in an `Int`.
    static func bytes(from text: String) -> Int? {
        let (count, suffix) = splitCount(text)
        guard let count else { return nil }
        if suffix.isEmpty { return count }
        guard let unit = units.first(where: { $0.suffix == suffix }) else { return nil }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: unit.bytes)
        return overflow ? nil : bytes
    }

    /// `bytes` in the largest unit that divides it exactly: 4096 is "4KiB", 1000 is "1000B".
    static func text(bytes: Int) -> String {
        let unit = units.first { bytes != 0 && bytes % $0.bytes == 0 } ?? (suffix: "B", bytes: 1)
        return "\(bytes / unit.bytes)\(unit.suffix)"
    }
}

/// Durations written as an integer and one of `ns`, `us`, `ms`, `s`, `m`, `h`: "250ms", "2s", "1m".
enum DurationText {
    /// Largest first, so that rendering picks the largest unit that divides exactly.
    static let units: [(suffix: String, nanoseconds: Int64)] = [
        ("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000),
        ("ms", 1_000_000), ("us", 1_000), ("ns", 1),
    ]

    /// What a duration must look like, for messages.
    static let syntax = "an integer with ns, us, ms, s, m or h, such as \"250ms\""

    /// The duration `text` stands for; nil when it is not a duration or exceeds 2^63 nanoseconds.
    static func duration(from text: String) -> Duration? {
        let (count, suffix) = splitCount(text)
        guard let count, let unit = units.first(where: { $0.suffix == suffix }) else { return nil }
        let (nanoseconds, overflow) = Int64(count).multipliedReportingOverflow(by: unit.nanoseconds)
        return overflow ? nil : .nanoseconds(nanoseconds)
    }

    /// `duration` in the largest unit that divides it exactly: 1.5 s is "1500ms".
    static func text(for duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let (wholeSeconds, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return "\(seconds)s" }
        let nanoseconds = wholeSeconds + attoseconds / 1_000_000_000
        let unit =
            units.first { nanoseconds != 0 && nanoseconds % $0.nanoseconds == 0 } ?? (suffix: "s", nanoseconds: 1_000_000_000)
        return "\(nanoseconds / unit.nanoseconds)\(unit.suffix)"
    }
}

/// Splits "64KiB" into 64 and "KiB". The count is nil unless it is plain decimal digits without
/// leading zeros that fit in an `Int`.
private func splitCount(_ text: String) -> (count: Int?, suffix: Substring) {
    let digits = text.prefix { $0.isASCII && $0.isNumber }
    let suffix = text[digits.endIndex...]
    guard !digits.isEmpty, digits == "0" || digits.first != "0", let count = Int(digits) else { return (nil, suffix) }
    return (count, suffix)
}
