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
        let shutdownSignal = ringd_eventfd()
        guard shutdownSignal >= 0 else { throw StartupError(SystemError("eventfd", errno: errno)) }
        defer { _ = close(shutdownSignal) }

        let listeners = try bindListeners(configuration, workers: workerCount)
        // Socket files go when ringd does, whichever way serve returns.
        defer { listeners.forEach { $0.unixFile?.removeIfStillOurs() } }
        let perWorker: [[ListeningSocket]]
        let group: WorkerGroup
        do throws(SystemError) {
            perWorker = try socketsPerWorker(listeners, workers: workerCount)
            do throws(SystemError) {
                group = try WorkerGroup(
                    workerCount: workerCount, configuration: configuration, relayInboxes: S.reach == .everyWorker)
            } catch {
                perWorker.joined().forEach { $0.close() }
                throw error
            }
        } catch {
            listeners.forEach { $0.close() }
            throw StartupError(error)
        }
        // Every worker has stopped (joined) before the arenas go: a relayed span of one worker's
        // arena may be in a send on another worker's ring until that worker's ring is closed.
        defer { group.close() }

        let latch = StartupLatch(workers: workerCount)
        var threads: [JoinableThread] = []
        for worker in 0..<workerCount {
            let own = perWorker[worker]
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
        ready(
            ServerReady(
                addresses: listeners.map(\.address.description),
                workers: workerCount,
                taskRunMode: startup.taskRunMode.rawValue))

        let log = reloadUntilStopSignal(&signals, configuration, reload, group: group)
        wake(shutdownSignal)
        waitForWorkersOrSecondSignal(group, signals: &signals, log: log)
        threads.forEach { $0.join() }
        if let failure = latch.runFailure { throw failure }
        return group.statistics.map(\.snapshot)
    }

    /// Takes signals on the main thread: each SIGHUP reloads; SIGINT or SIGTERM returns, with
    /// the log at the level last configured.
    private static func reloadUntilStopSignal(
        _ signals: inout sigset_t, _ configuration: Configuration, _ reload: () throws -> Configuration, group: WorkerGroup
    ) -> ServerLog {
        var log = ServerLog(worker: nil, level: configuration.server.logLevel)
        var running = configuration
        var received: Int32 = 0
        while true {
            while sigwait(&signals, &received) != 0 {}
            guard received == SIGHUP else { return log }
            running = reloadConfiguration(running, reload, group: group, log: log)
            log.setLevel(running.server.logLevel)
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

    /// The sockets of each configured address, in order: a SO_REUSEPORT socket per worker for
    /// TCP, one socket for a Unix path.
    private static func bindListeners(_ configuration: Configuration, workers: Int) throws(StartupError) -> [ListenerGroup] {
        var listeners: [ListenerGroup] = []
        do throws(SystemError) {
            for address in configuration.server.listen {
                listeners.append(
                    try ListenerFactory.bind(
                        address, workers: workers, backlog: configuration.server.backlog, unixMode: configuration.server.unixMode))
            }
        } catch {
            listeners.forEach { $0.close() }
            listeners.forEach { $0.unixFile?.removeIfStillOurs() }
            throw StartupError(error)
        }
        return listeners
    }

    /// What each worker accepts from: its share of every address's sockets, in address order.
    private static func socketsPerWorker(_ listeners: [ListenerGroup], workers: Int) throws(SystemError) -> [[ListeningSocket]] {
        var perWorker: [[ListeningSocket]] = Array(repeating: [], count: workers)
        for group in listeners {
            let shares: [[ListeningSocket]]
            do throws(SystemError) { shares = try group.perWorker(workers) } catch {
                perWorker.joined().forEach { $0.close() }
                throw error
            }
            for worker in 0..<workers { perWorker[worker] += shares[worker] }
        }
        return perWorker
    }

    private static func runWorker<S: Service>(
        _ index: Int, cpu: Int?, configuration: Configuration, group: WorkerGroup, listeners: [ListeningSocket],
        shutdownSignal: Int32, latch: StartupLatch, makeService: @escaping (Configuration) -> S
    ) {
        if let cpu { CPUSet.pinCurrentThread(to: cpu) }
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
        _ running: Configuration, _ reload: () throws -> Configuration, group: WorkerGroup, log: ServerLog
    ) -> Configuration {
        let read: Configuration
        do {
            read = try reload()
        } catch {
            log.write(.error, "reload failed, the running configuration stays: \(error)")
            return running
        }
        let (next, kept) = read.keepingRestartValues(of: running)
        if next.outputChunkSize != running.outputChunkSize {
            log.write(
                .error,
                "reload refused: its messages need output chunks of \(next.outputChunkSize) bytes, "
                    + "and the running ones are \(running.outputChunkSize); restart ringd to use them")
            return running
        }
        if !kept.isEmpty {
            log.write(.warning, "reload: \(kept.joined(separator: ", ")) only change on a restart; the running values stay")
        }
        group.publish(next)
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
        case ("bind", EADDRINUSE) where error.context.hasPrefix(ListenAddress.unixPrefix):
            message = "cannot listen: \(error). Fix: stop the other server or choose another path with --listen."
        case ("bind", EADDRINUSE):
            message = "cannot listen: \(error). Fix: stop the other server or choose another port with --listen."
        case ("bind", ENOENT), ("bind", EACCES) where error.context.hasPrefix(ListenAddress.unixPrefix):
            message = "cannot listen: \(error). Fix: create the socket's directory, writable by the user ringd runs as."
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

/// Start-up rendezvous between the main thread and the workers. Used only while starting and
/// stopping, never per connection, so a mutex is fine here.
final class StartupLatch: @unchecked Sendable {
    // @unchecked: every field is read and written under `mutex`.
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var remaining: Int
    private var failure: StartupError?
    private var failureWhileRunning: StartupError?
    private var mode: TaskRunMode = .deferred
    private var decided = false

    init(workers: Int) {
        remaining = workers
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    deinit {
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&condition)
    }

    func workerStarted(taskRunMode: TaskRunMode) {
        locked {
            if taskRunMode != .deferred { mode = taskRunMode }
            remaining -= 1
            pthread_cond_broadcast(&condition)
        }
    }

    func workerFailed(_ error: StartupError) {
        locked {
            if failure == nil { failure = error }
            remaining -= 1
            pthread_cond_broadcast(&condition)
        }
    }

    func workerFailedWhileRunning(_ error: StartupError) {
        locked { if failureWhileRunning == nil { failureWhileRunning = error } }
    }

    /// Blocks until every worker has either started or failed.
    func waitForStartup() -> (failure: StartupError?, taskRunMode: TaskRunMode) {
        locked {
            while remaining > 0 { pthread_cond_wait(&condition, &mutex) }
            decided = true
            pthread_cond_broadcast(&condition)
            return (failure, mode)
        }
    }

    /// Blocks a started worker until all have reported; false if any failed.
    var startupSucceeded: Bool {
        locked {
            while !decided { pthread_cond_wait(&condition, &mutex) }
            return failure == nil
        }
    }

    var runFailure: StartupError? { locked { failureWhileRunning } }

    private func locked<Result>(_ body: () -> Result) -> Result {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}
