// TickSpread: how far apart the subscribers received one broadcast tick.
//
// A broadcast server sends one line per tick to every subscriber; the lines of a tick share their
// `time=` stamp and their `seq=` (ringd counts seq per worker, and each worker has its own timer,
// so the pair names one worker's tick). Each LinesWorker records, per tick, the first and the last
// arrival among its own subscribers, on the monotonic clock at the batch of completions that
// delivered the line. Here the workers' records are merged, and the spread of a tick is its last
// arrival minus its first: the time the server took to reach all of its subscribers, plus whatever
// the client took to reap them.

/// One tick as one worker saw it.
struct TickArrivals: Sendable {
    /// The tick's `time=`, nanoseconds since the Unix epoch.
    var stamp: UInt64
    /// The tick's `seq=` (0 when the line has none).
    var seq: UInt64
    /// The first and last arrival, monotonic nanoseconds.
    var first: UInt64
    var last: UInt64
    /// Subscribers that received the tick.
    var deliveries: UInt64
}

struct TickSpread {
    /// Ticks stamped in the measured window.
    var ticks = 0
    /// Spread per tick in microseconds: median (nearest rank), 99th percentile, largest.
    var p50: Double = 0
    var p99: Double = 0
    var max: Double = 0
    /// The fewest and most subscribers one tick reached.
    var deliveriesMin: UInt64 = 0
    var deliveriesMax: UInt64 = 0

    init(merging records: [TickArrivals]) {
        let sorted = records.sorted { ($0.stamp, $0.seq) < ($1.stamp, $1.seq) }
        var merged: [TickArrivals] = []
        merged.reserveCapacity(sorted.count)
        for record in sorted {
            if let previous = merged.last, previous.stamp == record.stamp, previous.seq == record.seq {
                merged[merged.count - 1].first = Swift.min(previous.first, record.first)
                merged[merged.count - 1].last = Swift.max(previous.last, record.last)
                merged[merged.count - 1].deliveries += record.deliveries
            } else {
                merged.append(record)
            }
        }
        ticks = merged.count
        guard !merged.isEmpty else { return }
        let spreads = merged.map { Double($0.last - $0.first) / 1000 }.sorted()
        p50 = TickSpread.nearestRank(spreads, percent: 50)
        p99 = TickSpread.nearestRank(spreads, percent: 99)
        max = spreads[spreads.count - 1]
        deliveriesMin = merged.map(\.deliveries).min() ?? 0
        deliveriesMax = merged.map(\.deliveries).max() ?? 0
    }

    /// The smallest value with at least `percent` % of the values at or below it.
    static func nearestRank(_ sorted: [Double], percent: Double) -> Double {
        let rank = Int((percent / 100 * Double(sorted.count)).rounded(.up))
        return sorted[Swift.min(Swift.max(rank, 1), sorted.count) - 1]
    }

    /// `200 ticks, p50 3.10ms  p99 9.80ms  max 11.20ms, 4998...5002 subscribers each`
    var text: String {
        guard ticks > 0 else { return "no ticks with time= in the window" }
        return "\(ticks) ticks, p50 \(formatMicroseconds(p50))  p99 \(formatMicroseconds(p99))  max \(formatMicroseconds(max)), "
            + "\(deliveriesMin)...\(deliveriesMax) subscribers each (first to last arrival of one tick)"
    }

    /// The fields of a `tick_spread_us` object.
    func writeFields(_ writer: inout JSONWriter) {
        writer.field("ticks", ticks)
        writer.field("p50", p50)
        writer.field("p99", p99)
        writer.field("max", max)
        writer.field("deliveries_min", deliveriesMin)
        writer.field("deliveries_max", deliveriesMax)
    }
}
