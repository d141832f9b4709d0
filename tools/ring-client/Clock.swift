// Clock: the two clocks ring-client reads, as plain nanosecond counts.
//
// clock_gettime goes through the vDSO, so a reading costs tens of nanoseconds and no system
// call; the benchmark loops read the monotonic clock once per batch of completions.

#if canImport(Glibc)
import Glibc
#endif

/// CLOCK_MONOTONIC in nanoseconds: for intervals and schedules inside this process.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

/// CLOCK_REALTIME in nanoseconds since the Unix epoch: for stamps another process wrote.
@inline(__always)
func wallClockNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

extension Duration {
    /// The duration as whole nanoseconds, saturating at zero and UInt64.max.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole &+ UInt64(attoseconds / 1_000_000_000)
    }

    /// The duration as poll(2)'s timeout: milliseconds rounded up, so that a wait shorter than
    /// a millisecond is a short wait and not none at all.
    var pollMilliseconds: Int32 {
        let nanoseconds = self.nanoseconds
        return Int32(clamping: nanoseconds / 1_000_000 + (nanoseconds % 1_000_000 == 0 ? 0 : 1))
    }
}

/// Sleeps the calling thread for `nanoseconds`, resuming after a signal.
func sleepNanoseconds(_ nanoseconds: UInt64) {
    var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

/// Open-loop schedules: when event `index` of a schedule that started at `start` and has one
/// event every `interval` nanoseconds falls due. An event due more than 10^18 ns (31 years)
/// after the start never falls due (UInt64.max): converting a Double past UInt64's range to
/// UInt64 traps, and a vanishing rate makes the interval that large.
@inline(__always)
func scheduledTime(start: UInt64, interval: Double, index: UInt64) -> UInt64 {
    let offset = Double(index) * interval
    return offset < 1e18 ? start &+ UInt64(offset) : .max
}
