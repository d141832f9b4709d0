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

    /// Calls `ready` once every worker listens, then runs until SIGINT or SIGTERM, or until a new
    /// process takes over (`server.control_socket`) and the connections this one holds are
    /// served out. With `takeover`, the path of a running ringd's control socket, it first takes
    /// that ringd's listening sockets (see Takeover). Throws a StartupError, whose text names the
    /// cause and the fix, when it cannot start. On SIGHUP, `reload` reads the configuration
    /// again; what it may change takes effect in every worker, and an invalid file keeps the
    /// running one. Returns each worker's statistics at its stop.
    static func serve<S: Service>(
        configuration: Configuration, makeService: @escaping @Sendable (Configuration, Worker) -> S,
        takeover takeoverPath: String? = nil, reload: () throws -> Configuration, ready: (ServerReady) -> Void
    ) throws(StartupError) -> [WorkerStatistics] {
        try checkKernelRelease()
        let cpus = CPUSet.allowed()
        let workerCount = configuration.server.workers.count(cpus: cpus.count)

        var signals = blockSignals()
        let manager = ServiceManager.fromEnvironment(log: ServerLog(worker: nil, level: configuration.server.logLevel))
        defer { manager?.close() }
        let shutdownSignal = ringd_eventfd()
        guard shutdownSignal >= 0 else { throw StartupError(SystemError("eventfd", errno: errno)) }
        defer { _ = close(shutdownSignal) }

        let takeover = try takeoverPath.map { path throws(StartupError) in try Takeover.request(from: path) }
        let listeners = try acquireListeners(configuration, workers: workerCount, takeover: takeover)
        var control: ControlServer?
        // Socket files go when ringd does, whichever way serve returns, unless a new process took them.
        defer { removeSocketFiles(of: listeners, takenFrom: takeover, keptBy: control) }
        if takeover == nil { control = try openControlSocket(configuration, closingOnFailure: listeners) }
        defer { control?.stop() }
        let (group, perWorker) = try makeWorkerGroup(S.self, configuration, workers: workerCount, listeners: listeners)
        // Every worker has stopped (joined) before the arenas go: a relayed span of one worker's
        // arena may be in a send on another worker's ring until that worker's ring is closed.
        defer { group.close() }

        let latch = StartupLatch(workers: workerCount)
        let threads = (0..<workerCount).map { worker in
            let own = perWorker[worker]
            let cpu = configuration.server.pinWorkers ? cpus[worker % cpus.count] : nil
            return startThread {
                runWorker(
                    worker, cpu: cpu, configuration: configuration, group: group, listeners: own, shutdownSignal: shutdownSignal,
                    latch: latch, makeService: { makeService($0, Worker(index: worker, group: group)) })
            }
        }

        let startup = latch.waitForStartup()
        let log = ServerLog(worker: nil, level: configuration.server.logLevel)
        if let failure = startup.failure ?? completeTakeover(takeover, configuration, group: group, control: &control, log: log) {
            takeover?.abandon()
            wake(shutdownSignal)
            threads.forEach { $0.join() }
            throw failure
        }
        control?.start(listeners: listeners, workers: group, mainThread: pthread_self(), log: log)
        if let warning = configuration.completionQueueWarning { log.write(.warning, warning) }
        let addresses = listeners.map(\.address.description)
        let status = ServerStatus(
            mode: configuration.server.mode, taskRunMode: startup.taskRunMode.rawValue, addresses: addresses,
            workers: group.statistics, cluster: ClusterIdentity(configuration.cluster))
        ready(ServerReady(addresses: addresses, workers: workerCount, taskRunMode: status.taskRunMode, status: status))
        // After a takeover this process is the service's main process now (MAINPID=).
        manager?.ready(status, asMainProcess: takeover != nil)

        let (stop, finalLog) = reloadUntilStop(
            &signals, configuration, reload, group: group, control: control, status: status, manager: manager)
        control?.stop()
        if stop == .signal {
            // After a hand-over the new process is the main process: STOPPING=1 would be its.
            manager?.stopping(status)
            wake(shutdownSignal)
        }
        waitForWorkers(group, signals: &signals, shutdownSignal: shutdownSignal, draining: stop == .signal, log: finalLog)
        threads.forEach { $0.join() }
        if let failure = latch.runFailure { throw failure }
        return group.statistics.map(\.snapshot)
    }

    /// Why the main thread stopped waiting for signals.
    enum StopReason {
        /// SIGINT or SIGTERM: drain and exit.
        case signal
        /// A new process took over the listeners; the workers serve their connections out.
        case handedOver
    }

    /// Takes signals on the main thread: each SIGHUP reloads (and tells systemd, when it started
    /// ringd); SIGINT or SIGTERM returns, and so does the control thread's SIGUSR2 once a
    /// hand-over is done. The log comes back at the level last configured.
    private static func reloadUntilStop(
        _ signals: inout sigset_t, _ configuration: Configuration, _ reload: () throws -> Configuration, group: WorkerGroup,
        control: ControlServer?, status: ServerStatus, manager: ServiceManager?
    ) -> (StopReason, ServerLog) {
        var log = ServerLog(worker: nil, level: configuration.server.logLevel)
        var running = configuration
        while true {
            let received = ServiceManager.waitForSignal(&signals, manager: manager, status: status)
            switch received {
            case SIGHUP:
                manager?.reloading()
                running = reloadConfiguration(running, reload, group: group, status: status, log: log)
                log.setLevel(running.server.logLevel)
                manager?.reloaded(status)
            case SIGUSR2:
                if control?.handedOver.load(ordering: .acquiring) == true { return (.handedOver, log) }
            default:
                return (.signal, log)
            }
        }
    }

    /// SIGINT, SIGTERM, SIGHUP and SIGUSR2 (the control thread's "handed over"), blocked before
    /// any thread starts, so every worker inherits the mask and only the main thread's sigwait
    /// takes them.
    private static func blockSignals() -> sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGHUP)
        sigaddset(&signals, SIGUSR2)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        return signals
    }

    /// What the workers share, and the sockets each of them accepts from.
    private static func makeWorkerGroup<S: Service>(
        _: S.Type, _ configuration: Configuration, workers: Int, listeners: [ListenerGroup]
    ) throws(StartupError) -> (WorkerGroup, [[ListeningSocket]]) {
        do throws(StartupError) {
            return try makeWorkerGroupOrFail(S.self, configuration, workers: workers, listeners: listeners)
        } catch {
            listeners.forEach { $0.close() }
            throw error
        }
    }

    private static func makeWorkerGroupOrFail<S: Service>(
        _: S.Type, _ configuration: Configuration, workers: Int, listeners: [ListenerGroup]
    ) throws(StartupError) -> (WorkerGroup, [[ListeningSocket]]) {
        let perWorker: [[ListeningSocket]]
        do throws(SystemError) { perWorker = try ListenerGroup.socketsPerWorker(listeners, workers: workers) } catch {
            throw StartupError(error)
        }
        // A worker keeps one bit per listener (`acceptPausedListeners`).
        if let most = perWorker.map(\.count).max(), most > EventLoop<S>.maximumListeners {
            perWorker.joined().forEach { $0.close() }
            throw StartupError(
                message: "a worker would accept on \(most) listening sockets, more than \(EventLoop<S>.maximumListeners): "
                    + "the running ringd has more sockets per address than this one has workers. Fix: raise --workers.")
        }
        do throws(SystemError) {
            let group = try WorkerGroup(workerCount: workers, configuration: configuration, relayInboxes: S.reach == .everyWorker)
            return (group, perWorker)
        } catch {
            perWorker.joined().forEach { $0.close() }
            throw StartupError(error)
        }
    }

    private static func runWorker<S: Service>(
        _ index: Int, cpu: Int?, configuration: Configuration, group: WorkerGroup, listeners: [ListeningSocket],
        shutdownSignal: Int32, latch: StartupLatch, makeService: @escaping (Configuration) -> S
    ) {
        if let cpu { CPUSet.pinCurrentThread(to: cpu) }
        let incomingCPU = configuration.server.incomingCPU ? cpu : nil
        listeners.forEach { $0.preferConnections(arrivingOn: incomingCPU) }
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

    /// Waits for the workers. While they drain (for up to `server.drain_timeout`), a second
    /// SIGINT or SIGTERM means "now": ringd exits at once. After a hand-over (`draining` false)
    /// the first one starts the drain instead, closing idle connections, and the second exits.
    private static func waitForWorkers(
        _ group: WorkerGroup, signals: inout sigset_t, shutdownSignal: Int32, draining: Bool, log: ServerLog
    ) {
        var draining = draining
        var pollInterval = timespec(tv_sec: 0, tv_nsec: 50_000_000)
        while group.runningWorkers.load(ordering: .acquiring) > 0 {
            let received = sigtimedwait(&signals, nil, &pollInterval)
            guard received == SIGINT || received == SIGTERM || (draining && received == SIGHUP) else { continue }
            if draining {
                log.write(.notice, "second signal: exiting without waiting for output to drain")
                _exit(1)
            }
            log.write(.notice, "signal after the hand-over: closing idle connections, draining the others")
            draining = true
            wake(shutdownSignal)
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
