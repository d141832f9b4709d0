// ServiceManager: systemd's notification protocol (sd_notify(3)) spoken directly. Each message
// is one datagram of `KEY=VALUE` lines to the AF_UNIX socket $NOTIFY_SOCKET names (a path, or an
// abstract name written with a leading '@'), so ringd needs no libsystemd.
//
// What ringd says, from the main thread:
// - READY=1 once every worker listens (Type=notify waits for it);
// - on SIGHUP, RELOADING=1 with MONOTONIC_USEC= (the CLOCK_MONOTONIC time of the request, which
//   systemd requires with it), then READY=1 once the reload is applied or refused;
// - STOPPING=1 when the drain starts;
// - STATUS= with the connections open, at most once a second and only when it changed;
// - with WatchdogSec= ($WATCHDOG_USEC), WATCHDOG=1 every half of it, but only while every
//   worker's loop is turning (none in ServerStatus.stuckWorkers): a stuck worker stops the
//   pings, STATUS= names it, and systemd restarts the service.

import RingdSystem
import URing

#if canImport(Glibc)
    import Glibc
#endif

final class ServiceManager {
    private let descriptor: Int32
    private var address = sockaddr_un()
    private let addressLength: socklen_t
    /// Half of $WATCHDOG_USEC, in nanoseconds; nil when systemd set no watchdog for ringd.
    let watchdogInterval: UInt64?
    private var nextWatchdog: UInt64 = 0
    private var nextStatus: UInt64 = 0
    private var lastStatus = ""
    private var log: ServerLog
    private var sendFailureLogged = false
    private var isClosed = false

    /// The service manager named by $NOTIFY_SOCKET, or nil when ringd was not started by one (or
    /// the name is not one ringd can reach: the log says why).
    static func fromEnvironment(log: ServerLog) -> ServiceManager? {
        guard let name = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !name.isEmpty else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.first == UInt8(ascii: "/") || bytes.first == UInt8(ascii: "@"), bytes.count < capacity else {
            log.write(
                .warning,
                "NOTIFY_SOCKET=\(name) is neither an absolute path nor an @abstract name under \(capacity) bytes; not notifying systemd"
            )
            return nil
        }
        if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }  // the abstract namespace: a leading NUL, no terminator
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes[0] == 0 ? 0 : 1))
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            log.write(.warning, "cannot notify systemd: socket: \(errnoName(errno))")
            return nil
        }
        return ServiceManager(descriptor: descriptor, address: address, length: length, log: log)
    }

    private init(descriptor: Int32, address: sockaddr_un, length: socklen_t, log: ServerLog) {
        self.descriptor = descriptor
        self.address = address
        self.addressLength = length
        self.log = log
        watchdogInterval = Self.watchdogIntervalFromEnvironment()
    }

    deinit { precondition(isClosed, "ServiceManager dropped without close()") }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        _ = Glibc.close(descriptor)
    }

    func ready(_ status: ServerStatus) {
        lastStatus = statusLine(status)
        send("READY=1\n" + lastStatus)
        let now = monotonicNanoseconds()
        nextWatchdog = now
        tick(status, now: now)
    }

    func reloading() {
        send("RELOADING=1\nMONOTONIC_USEC=\(monotonicNanoseconds() / 1000)\nSTATUS=reloading the configuration\n")
    }

    func reloaded(_ status: ServerStatus) {
        lastStatus = statusLine(status)
        send("READY=1\n" + lastStatus)
    }

    func stopping(_ status: ServerStatus) {
        send("STOPPING=1\nSTATUS=draining \(status.connectionsOpen) open connections\n")
    }

    /// Sends what is due: the status if it changed, then a watchdog ping unless a worker is stuck.
    func tick(_ status: ServerStatus, now: UInt64 = monotonicNanoseconds()) {
        let watchdogDue = watchdogInterval != nil && now >= nextWatchdog
        guard watchdogDue || now >= nextStatus else { return }
        nextStatus = now + 1_000_000_000
        let stuck = status.stuckWorkers
        let line = statusLine(status, stuck: stuck)
        if line != lastStatus {
            if !stuck.isEmpty {
                log.write(
                    .error,
                    "\(Self.describe(stuck)): the loop has not turned for \(ServerStatus.stuckAfterMilliseconds) ms; "
                        + "watchdog pings withheld")
            } else if lastStatus.contains(" stuck, ") {
                log.write(.notice, "every worker's loop turns again: watchdog pings resume")
            }
            lastStatus = line
            send(line)
        }
        if let watchdogInterval, watchdogDue {
            nextWatchdog = now + watchdogInterval
            if stuck.isEmpty { send("WATCHDOG=1\n") }
        }
    }

    /// How long the main thread may wait for a signal before `tick` is due again.
    var tickTimeout: timespec {
        let now = monotonicNanoseconds()
        var due = nextStatus
        if watchdogInterval != nil { due = min(due, nextWatchdog) }
        let wait = due > now ? due - now : 0
        return timespec(tv_sec: Int(wait / 1_000_000_000), tv_nsec: Int(wait % 1_000_000_000))
    }

    /// `STATUS=echo: 3 connections open, 2 workers`, with any stuck worker named first.
    private func statusLine(_ status: ServerStatus, stuck: [Int] = []) -> String {
        let open = status.connectionsOpen
        let workers = status.workers.count
        let stuckText = stuck.isEmpty ? "" : "\(Self.describe(stuck)) stuck, watchdog pings withheld; "
        return "STATUS=\(status.mode.rawValue): \(stuckText)\(open) \(open == 1 ? "connection" : "connections") open, "
            + "\(workers) \(workers == 1 ? "worker" : "workers")\n"
    }

    /// "worker 1", "workers 0, 2"
    private static func describe(_ workers: [Int]) -> String {
        (workers.count == 1 ? "worker " : "workers ") + workers.map(String.init).joined(separator: ", ")
    }

    private func send(_ message: String) {
        var text = message
        let sent = text.withUTF8 { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), $0, addressLength)
                }
            }
        }
        if sent < 0 && !sendFailureLogged {
            sendFailureLogged = true  // once: systemd may be gone for good, and the log is no place for a loop
            log.write(.warning, "cannot notify systemd at NOTIFY_SOCKET: sendto: \(errnoName(errno))")
        }
    }

    /// Half of $WATCHDOG_USEC, when it is set for this process ($WATCHDOG_PID, if set, names it).
    private static func watchdogIntervalFromEnvironment() -> UInt64? {
        if let pid = getenv("WATCHDOG_PID").map({ String(cString: $0) }), pid != String(getpid()) { return nil }
        guard let text = getenv("WATCHDOG_USEC").map({ String(cString: $0) }), let microseconds = UInt64(text),
            microseconds > 0
        else { return nil }
        return microseconds * 1000 / 2
    }
}

extension ServiceManager {
    /// Waits for one of `signals` on the main thread, ticking (watchdog, status) while none comes.
    /// Without a service manager, a plain sigwait.
    static func waitForSignal(_ signals: inout sigset_t, manager: ServiceManager?, status: ServerStatus) -> Int32 {
        guard let manager else {
            var received: Int32 = 0
            while sigwait(&signals, &received) != 0 {}
            return received
        }
        while true {
            var timeout = manager.tickTimeout
            let received = sigtimedwait(&signals, nil, &timeout)
            if received > 0 { return received }
            manager.tick(status)  // timed out (EAGAIN) or interrupted (EINTR)
        }
    }
}
