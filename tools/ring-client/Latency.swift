// Latency: HdrHistogram recording in nanoseconds, and the percentiles the summaries print.

import Histogram

/// The longest latency tracked exactly; longer ones are recorded as this value.
let highestTrackedLatency: UInt64 = 100_000_000_000   // 100 s

/// A histogram of nanoseconds, 3 significant digits, fixed range so recording never allocates.
func makeLatencyHistogram() -> Histogram<UInt64> {
    Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: highestTrackedLatency, numberOfSignificantValueDigits: .three)
}

@inline(__always)
func recordLatency(_ histogram: inout Histogram<UInt64>, _ nanoseconds: UInt64) {
    histogram.record(min(max(nanoseconds, 1), highestTrackedLatency))
}

/// The figures every summary prints, in microseconds.
struct LatencySummary: Sendable {
    var count: UInt64
    var p50: Double
    var p90: Double
    var p99: Double
    var p999: Double
    var max: Double
    var mean: Double

    init(_ histogram: Histogram<UInt64>) {
        count = histogram.totalCount
        if count == 0 {
            p50 = 0; p90 = 0; p99 = 0; p999 = 0; max = 0; mean = 0
            return
        }
        p50 = Double(histogram.valueAtPercentile(50)) / 1000
        p90 = Double(histogram.valueAtPercentile(90)) / 1000
        p99 = Double(histogram.valueAtPercentile(99)) / 1000
        p999 = Double(histogram.valueAtPercentile(99.9)) / 1000
        max = Double(histogram.max) / 1000
        mean = histogram.mean / 1000
    }

    /// `p50 283.1us  p90 ...`
    var text: String {
        guard count > 0 else { return "no samples" }
        return "p50 \(formatMicroseconds(p50))  p90 \(formatMicroseconds(p90))  p99 \(formatMicroseconds(p99))  "
            + "p99.9 \(formatMicroseconds(p999))  max \(formatMicroseconds(max))  mean \(formatMicroseconds(mean))"
    }

    /// The fields of a `latency_us` object.
    func writeFields(_ writer: inout JSONWriter) {
        writer.field("count", count)
        writer.field("p50", p50)
        writer.field("p90", p90)
        writer.field("p99", p99)
        writer.field("p99_9", p999)
        writer.field("max", max)
        writer.field("mean", mean)
    }
}

/// `283.1us`, `12.40ms`, `1.503s`.
func formatMicroseconds(_ microseconds: Double) -> String {
    if microseconds >= 1_000_000 { return formatFixed(microseconds / 1_000_000, digits: 3) + "s" }
    if microseconds >= 10_000 { return formatFixed(microseconds / 1000, digits: 2) + "ms" }
    return formatFixed(microseconds, digits: 1) + "us"
}
