// Clocks: the clocks ringd and ring-client read, as plain integers.
//
// clock_gettime goes through the vDSO, so a reading costs tens of nanoseconds and no system
// call. ringd's event loop reads the coarse clock once per iteration; ring-client's benchmark
// loops read the monotonic clock once per batch of completions.

#if canImport(Glibc)
    import Glibc
#endif

/// A monotonic clock in milliseconds, coarse (the kernel tick), wrapping after 49 days: callers
/// compare with wrapping subtraction, which is right for intervals under 24 days.
public enum CoarseClock {
    @inlinable @inline(__always)
    public static func milliseconds() -> UInt32 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &time)
        return UInt32(truncatingIfNeeded: Int(time.tv_sec) &* 1000 &+ Int(time.tv_nsec) / 1_000_000)
    }
}

/// CLOCK_MONOTONIC in nanoseconds: for intervals and schedules inside this process.
@inlinable @inline(__always)
public func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

/// CLOCK_REALTIME in nanoseconds since the Unix epoch: for stamps another process wrote.
@inlinable @inline(__always)
public func wallClockNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

/// Sleeps the calling thread for `nanoseconds`, resuming after a signal.
public func sleepNanoseconds(_ nanoseconds: UInt64) {
    var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

extension Duration {
    /// The duration as whole nanoseconds, saturating at zero and UInt64.max.
    public var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole &+ UInt64(attoseconds / 1_000_000_000)
    }

    /// The duration as poll(2)'s timeout: milliseconds rounded up, so that a wait shorter than
    /// a millisecond is a short wait and not none at all.
    public var pollMilliseconds: Int32 {
        let nanoseconds = self.nanoseconds
        return Int32(clamping: nanoseconds / 1_000_000 + (nanoseconds % 1_000_000 == 0 ? 0 : 1))
    }
}
