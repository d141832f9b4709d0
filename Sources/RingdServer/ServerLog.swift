// ServerLog: one line per event on standard error, `ringd: LEVEL: message`, for events at or
// above `server.log_level`. Messages are built only when their level is enabled, so a debug
// line costs nothing on the hot path unless debug logging is on. (Structured logging through
// swift-log is the hardening issue's; this keeps the same levels.)

import RingdConfig
#if canImport(Glibc)
import Glibc
#endif

struct ServerLog: Sendable {
    let threshold: LogLevel

    @inline(__always)
    func enabled(_ level: LogLevel) -> Bool { level.severity >= threshold.severity }

    func write(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard enabled(level) else { return }
        var line = "ringd: \(level.rawValue): \(message())\n"
        line.withUTF8 { bytes in _ = Glibc.write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
    }
}

/// Counts events and reports them at most once a second, so a burst of them (thousands of
/// slow clients cut at once) is one log line, not thousands.
struct RateLimitedReport {
    private var pending = 0
    private var lastReport: Int64 = 0

    /// Counts one event; returns the number to report when a report is due.
    mutating func count() -> Int? {
        pending += 1
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &now)
        let seconds = Int64(now.tv_sec)
        guard seconds != lastReport else { return nil }
        lastReport = seconds
        defer { pending = 0 }
        return pending
    }
}

extension LogLevel {
    var severity: Int {
        switch self {
        case .trace: 0
        case .debug: 1
        case .info: 2
        case .notice: 3
        case .warning: 4
        case .error: 5
        case .critical: 6
        }
    }
}

/// A monotonic clock in milliseconds, coarse (the kernel tick), wrapping after 49 days: callers
/// compare with wrapping subtraction, which is right for intervals under 24 days.
enum CoarseClock {
    @inline(__always)
    static func milliseconds() -> UInt32 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &time)
        return UInt32(truncatingIfNeeded: Int(time.tv_sec) &* 1000 &+ Int(time.tv_nsec) / 1_000_000)
    }
}
