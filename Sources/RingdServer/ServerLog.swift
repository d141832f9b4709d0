// ServerLog: a worker's (or the main thread's) swift-log Logger, tagged with `worker=N`, with
// its threshold cached as a plain value. Checking `enabled(.debug)` on the hot path is then a
// compare, not a call through the handler existential; a message is built only when its level
// is enabled. Log lines are events (a refusal, a cut, a reload), never per-completion chatter.

import Logging
import RingdConfig
import RingdSystem

#if canImport(Glibc)
    import Glibc
#endif

struct ServerLog {
    private var logger: Logger
    private(set) var threshold: Logger.Level

    init(worker: Int?, level: LogLevel) {
        logger = Logger(label: "ringd")
        if let worker { logger[metadataKey: "worker"] = "\(worker)" }
        threshold = Logger.Level(level)
        logger.logLevel = threshold
    }

    /// SIGHUP may change `server.log_level`.
    mutating func setLevel(_ level: LogLevel) {
        threshold = Logger.Level(level)
        logger.logLevel = threshold
    }

    @inline(__always)
    func enabled(_ level: Logger.Level) -> Bool { level >= threshold }

    /// Logs one event.
    func write(_ level: Logger.Level, _ message: @autoclosure () -> String) {
        guard enabled(level) else { return }
        logger.log(level: level, "\(message())")
    }

    /// Logs one event about one client, with its address as `peer` when the socket still has
    /// one (a reset connection may not): a getpeername, paid only when the level is enabled.
    func write(_ level: Logger.Level, client descriptor: Int32, _ message: @autoclosure () -> String) {
        guard enabled(level) else { return }
        if let peer = try? SocketAddress(peerOf: descriptor) {
            logger.log(level: level, "\(message())", metadata: ["peer": "\(peer)"])
        } else {
            logger.log(level: level, "\(message())")
        }
    }
}

extension Logger.Level {
    /// The configuration's levels are swift-log's, by name.
    init(_ level: LogLevel) {
        self = Logger.Level(rawValue: level.rawValue)!
    }
}

/// Counts events and reports them at most once a second, so a burst of them (thousands of
/// slow clients cut at once) is one log line, not thousands.
struct RateLimitedReport {
    private var pending = 0
    private var lastReport: UInt32 = .max

    /// Counts one event; returns the number to report when a report is due.
    mutating func count() -> Int? {
        pending += 1
        let seconds = CoarseClock.milliseconds() / 1000
        guard seconds != lastReport else { return nil }
        lastReport = seconds
        defer { pending = 0 }
        return pending
    }
}
