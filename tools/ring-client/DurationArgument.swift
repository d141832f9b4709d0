// DurationArgument: `10s`, `500ms`, `1.5s`, `2m`, `250us` or a bare number of seconds on the
// command line, as a Swift Duration.

import ArgumentParser
import RingdSystem

struct DurationArgument: ExpressibleByArgument, Sendable, CustomStringConvertible {
    let duration: Duration

    init(_ duration: Duration) { self.duration = duration }

    static func seconds(_ value: Int) -> DurationArgument { DurationArgument(.seconds(value)) }
    static func milliseconds(_ value: Int) -> DurationArgument { DurationArgument(.milliseconds(value)) }

    init?(argument: String) {
        let text = argument.lowercased()
        let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        var number = Substring(text)
        var scale = 1.0
        // Longest suffix first, so "ms" is not read as "s".
        for (suffix, factor) in units.sorted(by: { $0.0.count > $1.0.count }) where text.hasSuffix(suffix) {
            number = text.dropLast(suffix.count)
            scale = factor
            break
        }
        guard let value = Double(number), value >= 0, value.isFinite else { return nil }
        let nanoseconds = value * scale * 1e9
        guard nanoseconds < 1e18 else { return nil }
        duration = .nanoseconds(Int64(nanoseconds.rounded()))
    }

    var nanoseconds: UInt64 { duration.nanoseconds }

    var description: String { formatDuration(duration.nanoseconds) }

    var defaultValueDescription: String { description }
}

/// `1s`, `250ms`, `1.5s`, `40us`: the shortest exact-looking text for a duration.
func formatDuration(_ nanoseconds: UInt64) -> String {
    if nanoseconds == 0 { return "0s" }
    if nanoseconds % 1_000_000_000 == 0 { return "\(nanoseconds / 1_000_000_000)s" }
    if nanoseconds >= 1_000_000_000 { return formatFixed(Double(nanoseconds) / 1e9, digits: 3) + "s" }
    if nanoseconds % 1_000_000 == 0 { return "\(nanoseconds / 1_000_000)ms" }
    if nanoseconds % 1_000 == 0 { return "\(nanoseconds / 1_000)us" }
    return "\(nanoseconds)ns"
}

/// `value` with exactly `digits` decimals, without Foundation's String(format:).
func formatFixed(_ value: Double, digits: Int) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let negative = value < 0
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9e18 else { return negative ? "-\(abs(value))" : "\(value)" }
    let whole = UInt64(scaled)
    let integerPart = whole / UInt64(scale)
    var text = (negative && whole != 0 ? "-" : "") + String(integerPart)
    if digits > 0 {
        let fraction = String(whole % UInt64(scale))
        text += "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }
    return text
}
