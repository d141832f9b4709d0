// Server: binds the listeners, starts the workers (one per allowed CPU unless server.workers
// says otherwise, each pinned to its CPU when server.pin_workers is set), reports when all of
// them listen, reloads the configuration on SIGHUP, and stops them on SIGINT or SIGTERM.
//
// Signals are blocked in every thread and taken synchronously by the main thread with
// sigwait(2), so no handler runs at an arbitrary point. The main thread wakes the workers
// through eventfds that each of them polls through its own ring: one shared for shutdown, and
// one per worker for a reload.

import CLinux
import RingdConfig
import RingdServices
import RingdSystem
import Synchronization
import URing

#if canImport(Glibc)
    import Glibc
#endif

/// What a started server tells its caller.
public struct ServerReady: Sendable {
    /// The bound addresses, one per configured listen address, with the port the kernel chose.
    public let addresses: [String]
    public let workers: Int
    /// The task-running mode the kernel accepted for the rings.
    public let taskRunMode: String
    /// The workers' published statistics and the reloads, for other threads to read while ringd runs.
    public let status: ServerStatus
}

public enum Server {
    /// Runs `service` (one made per worker by `makeService`, and again from each reloaded
    /// configuration) until SIGINT or SIGTERM; `server.mode` is not consulted. For a mode that
    /// lives outside ringd's own list, such as one a test defines.
    @discardableResult
    public static func run<S: Service>(
        configuration: Configuration, service makeService: @escaping @Sendable (Configuration) -> S,
        reload: () throws -> Configuration = { throw ReloadUnavailable() }, ready: (ServerReady) -> Void
    ) throws(StartupError) -> [WorkerStatistics] {
        try serve(
            configuration: configuration, makeService: { configuration, _ in makeService(configuration) }, reload: reload,
            ready: ready)
    }

    /// Calls `ready` once every worker listens, then runs until SIGINT or SIGTERM. Throws a
    /// StartupError, whose text names the cause and the fix, when it cannot start. On SIGHUP,
    /// `reload` reads the configuration again; what it may change takes effect in every worker,
    /// and an invalid file keeps the running one. Returns each worker's statistics at its stop.
    static func serve<S: Service>(
        configuration: Configuration, makeService: @escaping @Sendable (Configuration, Worker) -> S,
        reload: () throws -> Configuration, ready: (ServerReady) -> Void
    ) throws(StartupError) -> [WorkerStatistics] {
        try checkKernelRelease()
        let cpus = CPUSet.allowed()
        let workerCount =
            switch configuration.server.workers {
            case .auto: cpus.count
            case .count(let count): count
            }

        var signals = blockSignals()
        let manager = ServiceManager.fromEnvironment(log: ServerLog(worker: nil, level: configuration.server.logLevel))
        defer { manager?.close() }
        let shutdownSignal = ringd_eventfd()
        guard shutdownSignal >= 0 else { throw StartupError(SystemError("eventfd", errno: errno)) }
        defer { _ = close(shutdownSignal) }

        // listeners[address][worker]
        let listeners = try bindListeners(configuration, workers: workerCount)
        let group: WorkerGroup
        do throws(SystemError) {
            group = try WorkerGroup(workerCount: workerCount, configuration: configuration, relayInboxes: S.reach == .everyWorker)
        } catch {
            listeners.joined().forEach { $0.close() }
            throw StartupError(error)
        }
        // Every worker has stopped (joined) before the arenas go: a relayed span of one worker's
        // arena may be in a send on another worker's ring until that worker's ring is closed.
        defer { group.close() }

        let latch = StartupLatch(workers: workerCount)
        var threads: [JoinableThread] = []
        for worker in 0..<workerCount {
            let own = listeners.map { $0[worker] }
            let cpu = configuration.server.pinWorkers ? cpus[worker % cpus.count] : nil
            threads.append(
                startThread {
                    runWorker(
                        worker, cpu: cpu, configuration: configuration, group: group, listeners: own,
                        shutdownSignal: shutdownSignal,
                        latch: latch, makeService: { makeService($0, Worker(index: worker, group: group)) })
                })
        }

        let startup = latch.waitForStartup()
        if let failure = startup.failure {
            wake(shutdownSignal)
            threads.forEach { $0.join() }
            throw failure
        }
        let addresses = listeners.map { $0[0].address.description }
        let status = ServerStatus(
            mode: configuration.server.mode, taskRunMode: startup.taskRunMode.rawValue, addresses: addresses,
            workers: group.statistics)
        ready(ServerReady(addresses: addresses, workers: workerCount, taskRunMode: status.taskRunMode, status: status))
        manager?.ready(status)

        let log = reloadUntilStopSignal(&signals, configuration, reload, group: group, status: status, manager: manager)
        manager?.stopping(status)
        wake(shutdownSignal)
        waitForWorkersOrSecondSignal(group, signals: &signals, log: log)
        threads.forEach { $0.join() }
        if let failure = latch.runFailure { throw failure }
        return group.statistics.map(\.snapshot)
    }

    /// Takes signals on the main thread: each SIGHUP reloads (and tells systemd, when it started
    /// ringd); SIGINT or SIGTERM returns, with the log at the level last configured.
    private static func reloadUntilStopSignal(
        _ signals: inout sigset_t, _ configuration: Configuration, _ reload: () throws -> Configuration, group: WorkerGroup,
        status: ServerStatus, manager: ServiceManager?
    ) -> ServerLog {
        var log = ServerLog(worker: nil, level: configuration.server.logLevel)
        var running = configuration
        while true {
            let received = ServiceManager.waitForSignal(&signals, manager: manager, status: status)
            guard received == SIGHUP else { return log }
            manager?.reloading()
            running = reloadConfiguration(running, reload, group: group, status: status, log: log)
            log.setLevel(running.server.logLevel)
            manager?.reloaded(status)
        }
    }

    /// SIGINT, SIGTERM and SIGHUP, blocked before any thread starts, so every worker inherits
    /// the mask and only the main thread's sigwait takes them.
    private static func blockSignals() -> sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGHUP)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        return signals
    }

    /// One SO_REUSEPORT socket per configured address and worker: `[address][worker]`.
    private static func bindListeners(_ configuration: Configuration, workers: Int) throws(StartupError) -> [[ListeningSocket]] {
        var listeners: [[ListeningSocket]] = []
        do throws(SystemError) {
            for address in configuration.server.listen {
                listeners.append(try ListenerFactory.bind(address, workers: workers, backlog: configuration.server.backlog))
            }
        } catch {
            listeners.joined().forEach { $0.close() }
            throw StartupError(error)
        }
        return listeners
    }

    private static func runWorker<S: Service>(
        _ index: Int, cpu: Int?, configuration: Configuration, group: WorkerGroup, listeners: [ListeningSocket],
        shutdownSignal: Int32, latch: StartupLatch, makeService: @escaping (Configuration) -> S
    ) {
        if let cpu { CPUSet.pinCurrentThread(to: cpu) }
        _ = ringd_name_current_thread("ringd-worker-\(index)")  // 15 bytes kept: "ringd-worker-99"
        let loop: EventLoop<S>
        do {
            loop = try EventLoop(
                index: index, configuration: configuration, group: group, listeners: listeners, shutdownSignal: shutdownSignal,
                makeService: makeService)
        } catch {
            listeners.forEach { $0.close() }
            latch.workerFailed(StartupError(error))
            return
        }
        latch.workerStarted(taskRunMode: loop.taskRunMode)
        guard latch.startupSucceeded else {
            loop.tearDownWithoutRunning()
            return
        }
        do {
            try loop.run()
        } catch {
            latch.workerFailedWhileRunning(StartupError(error))
            kill(getpid(), SIGTERM)  // wakes the main thread's sigwait to stop the others
        }
        loop.log.write(.info, "stopped: \(loop.statistics)")
        group.runningWorkers.subtract(1, ordering: .releasing)
    }

    /// SIGHUP: reads the configuration again and publishes what may change without a restart.
    /// Keys the schema marks `.restart` keep their running values, and the log says which ones
    /// were left.
    private static func reloadConfiguration(
        _ running: Configuration, _ reload: () throws -> Configuration, group: WorkerGroup, status: ServerStatus,
        log: ServerLog
    ) -> Configuration {
        let read: Configuration
        do {
            read = try reload()
        } catch {
            log.write(.error, "reload failed, the running configuration stays: \(error)")
            status.countReload(applied: false)
            return running
        }
        let (next, kept) = read.keepingRestartValues(of: running)
        if next.outputChunkSize != running.outputChunkSize {
            log.write(
                .error,
                "reload refused: its messages need output chunks of \(next.outputChunkSize) bytes, "
                    + "and the running ones are \(running.outputChunkSize); restart ringd to use them")
            status.countReload(applied: false)
            return running
        }
        if !kept.isEmpty {
            log.write(.warning, "reload: \(kept.joined(separator: ", ")) only change on a restart; the running values stay")
        }
        group.publish(next)
        status.countReload(applied: true)
        log.write(.notice, "configuration reloaded")
        return next
    }

    /// The workers drain for up to `server.drain_timeout`; a second SIGINT or SIGTERM in the
    /// meantime means "now": ringd exits at once, without waiting for them.
    private static func waitForWorkersOrSecondSignal(_ group: WorkerGroup, signals: inout sigset_t, log: ServerLog) {
        var pollInterval = timespec(tv_sec: 0, tv_nsec: 50_000_000)
        while group.runningWorkers.load(ordering: .acquiring) > 0 {
            if sigtimedwait(&signals, nil, &pollInterval) > 0 {
                log.write(.notice, "second signal: exiting without waiting for output to drain")
                _exit(1)
            }
        }
    }

    private static func wake(_ descriptor: Int32) {
        var one: UInt64 = 1
        _ = write(descriptor, &one, MemoryLayout<UInt64>.size)
    }

    private static func checkKernelRelease() throws(StartupError) {
        let release = KernelSupport.release()
        let minimum = KernelSupport.minimumRelease
        if (release.major, release.minor) < (minimum.major, minimum.minor) {
            throw StartupError(
                message:
                    "Linux \(release.text) is too old: ringd needs \(minimum.major).\(minimum.minor) or later for multishot recv with provided buffer rings. Fix: run on a newer kernel."
            )
        }
    }

    private static func startThread(_ body: @escaping @Sendable () -> Void) -> JoinableThread {
        do {
            return try JoinableThread(body)
        } catch {
            preconditionFailure("pthread_create failed: \(errnoName(error.errno))")
        }
    }
}

/// `Server.run` was not told how to read the configuration again.
public struct ReloadUnavailable: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "ringd was started without a configuration file, so there is nothing to reload" }
}

/// Why ringd could not start or had to stop, in words that name the cause and the fix.
public struct StartupError: Error, CustomStringConvertible, Sendable {
    public let message: String

    public init(message: String) { self.message = message }

    init(_ error: SystemError) {
        switch (error.call, error.errno) {
        case ("io_uring_setup", EPERM):
            message =
                "io_uring is not available: \(error). "
                + "It is disabled by the sysctl kernel.io_uring_disabled (now \(Self.ioUringDisabledSetting())) "
                + "or blocked by a seccomp filter, as many container runtimes install. "
                + "Fix: `sysctl -w kernel.io_uring_disabled=0`, or run ringd under a seccomp profile that "
                + "allows io_uring_setup, io_uring_enter and io_uring_register."
        case ("io_uring_setup", ENOSYS):
            message =
                "io_uring is not available: \(error). The kernel was built without io_uring "
                + "(CONFIG_IO_URING) or a seccomp filter hides it. Fix: run on Linux 6.1 or later with io_uring enabled."
        case ("io_uring_setup", ENOMEM):
            message =
                "io_uring is not available: \(error). The ring could not be allocated; on kernels before 5.12 this is "
                + "the locked-memory limit. Fix: raise `ulimit -l`, or lower io.submission_entries and io.completion_entries."
        case ("io_uring_register_buf_ring", _), ("io_uring probe", _):
            message = "io_uring lacks a feature ringd needs: \(error). Fix: run on Linux 6.1 or later."
        case ("bind", EADDRINUSE):
            message = "cannot listen: \(error). Fix: stop the other server or choose another port with --listen."
        case ("bind", EACCES):
            message = "cannot listen: \(error). Ports below 1024 need root or CAP_NET_BIND_SERVICE."
        case ("mmap", _):
            message = "cannot allocate memory: \(error). Fix: lower server.max_connections or io.buffer_count."
        default:
            message = "\(error)"
        }
    }

    public var description: String { message }

    private static func ioUringDisabledSetting() -> String {
        let descriptor = open("/proc/sys/kernel/io_uring_disabled", O_RDONLY)
        guard descriptor >= 0 else { return "unknown" }
        defer { _ = close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 16)
        let count = read(descriptor, &bytes, bytes.count)
        guard count > 0 else { return "unknown" }
        return String(decoding: bytes[..<count], as: UTF8.self).trimmingTrailingNewline()
    }
}

extension String {
    fileprivate func trimmingTrailingNewline() -> String {
        var text = self
        while text.last == "\n" { text.removeLast() }
        return text
    }
}
