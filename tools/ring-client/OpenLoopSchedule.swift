// OpenLoopSchedule: when the next request of a fixed-rate schedule falls due, in the nanoseconds
// RingdSystem's monotonicNanoseconds() reads.

/// Open-loop schedules: when event `index` of a schedule that started at `start` and has one
/// event every `interval` nanoseconds falls due. An event due more than 10^18 ns (31 years)
/// after the start never falls due (UInt64.max): converting a Double past UInt64's range to
/// UInt64 traps, and a vanishing rate makes the interval that large.
@inline(__always)
func scheduledTime(start: UInt64, interval: Double, index: UInt64) -> UInt64 {
    let offset = Double(index) * interval
    return offset < 1e18 ? start &+ UInt64(offset) : .max
}
