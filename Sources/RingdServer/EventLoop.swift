// EventLoop: one worker's ring, listeners, receive buffers and connections, and the loop that
// drives them. One per core; it shares nothing with the others on the per-byte path.
//
// Each iteration (TigerBeetle's io/linux.zig shape): wait for completions and submit what is
// queued in the same io_uring_enter; drain every ready completion through one dispatch switch,
// where handlers only queue new submissions; release the completions with one advance; finish
// the batch (cuts, posts to other workers, the access log); publish recycled buffers with one
// store. Handlers never recurse into the loop.
//
// The loop is generic over the service it runs (see RingdServices' Service): one specialisation
// per mode, so the service's static properties are constants here and its calls are direct.
// The files beside this one hold the handlers: +Accept, +Receive, +Send, +Close, +Timers,
// +Service (events to the service, actions back) and +Posts (lines to other workers).
//
// Needs Linux 6.0: multishot accept and recv, provided buffer rings, IORING_OP_ASYNC_CANCEL
// by descriptor, and SINGLE_ISSUER|DEFER_TASKRUN (6.1; COOP_TASKRUN is the fallback).

import RingdConfig
import RingdServices
import RingdSystem
import URing

#if canImport(Glibc)
    import Glibc
#endif

final class EventLoop<S: Service> {
    let index: Int
    let ring: Ring
    let buffers: ReceiveBuffers
    let table: ConnectionTable
    let listeners: [ListeningSocket]
    let shutdownSignal: Int32
    let group: WorkerGroup
    let arena: OutputArena
    let segments: SegmentPool
    let rawQueues: RawEchoQueues
    let vectors: SendVectors
    /// Recvs fill bundles of buffers (`io.receive_bundles`, where the kernel has them; for raw
    /// echo only where it also has the total limit, `receiveLimit`).
    let receiveBundles: Bool
    /// The bytes one bundled recv may take before it ends and must be armed again (0: no end).
    let receiveLimit: UInt32
    /// The same for a recv into the bulk buffers.
    let bulkReceiveLimit: UInt32
    /// Raw echo: a main-pool completion this large marks its client as streaming (the recv's
    /// whole limit, or one bulk buffer if that is less).
    let streamingRead: Int
    /// `io.batch_wait` where the kernel has batch waits, else zero.
    let batchWait: Duration
    var service: S
    /// Makes the service again from a reloaded configuration, for `reconfigure(from:)`.
    let makeService: (Configuration) -> S
    let services: ServiceState
    var limits: ConnectionLimits
    /// Timespecs: one per listener (the accept retry after EMFILE), then one per TimerEntry.
    let timeouts: TimeoutStorage
    /// Slots (and their generations) to cut at the end of the iteration, and why.
    let cuts: UnsafeMutablePointer<(slot: UInt32, generation: UInt32, reason: CutReason)>
    var cutCount = 0

    var stopping = false
    /// A shutdown signal came: no more accepts, connections close as their output drains.
    var draining = false
    /// A new process took over the listeners: no more accepts, connections are served until
    /// their clients close them, or until `server.drain_timeout`, when the drain begins.
    var handingOver = false
    let drainTimeout: Duration
    /// The worker's coarse clock in milliseconds, read once per iteration.
    var now: UInt32 = 0
    var statistics = WorkerStatistics()
    var log: ServerLog
    var cutReport = RateLimitedReport()
    /// This worker's arena counted in `group.arenasLow`.
    var arenaReportedLow = false
    /// When the last memory-pressure scan ran (the coarse clock), so one runs at most every 10 ms.
    var lastPressureScan: UInt32 = 0
    /// Generations of the service's timer and of the sweep, bumped when a reload replaces them.
    var timerGeneration: UInt32 = 0
    var sweepGeneration: UInt32 = 0
    /// Listeners (a bit each) whose accept is paused after EMFILE/ENFILE.
    var acceptPausedListeners: UInt64 = 0
    /// The most listening sockets one worker accepts on: one bit each above.
    static var maximumListeners: Int { UInt64.bitWidth }
    /// The completions a batch wait (`io.batch_wait`) waits for before its window ends.
    static var batch: UInt32 { 32 }
    var acceptFailureReport = RateLimitedReport()
    var upstreamDropReport = RateLimitedReport()
    var unpublishedReport = RateLimitedReport()
    /// Send-and-close connections whose close has not completed (`{clients}` for greet, counter).
    var greetingsInFlight = 0
    /// The service's `fixedGreeting`, read once at start and at each reload rather than per
    /// connection.
    var fixedGreeting: UnsafeRawBufferPointer?
    /// The connection to the cluster's Redis, when `[cluster] redis` is set and the service uses
    /// it (numbered greetings or a channel).
    let cluster: RedisLink?

    /// Builds the worker's ring and buffers. Must run on the worker's own thread: with
    /// SINGLE_ISSUER the creating thread is the only one allowed to submit.
    init(
        index: Int, configuration: Configuration, group: WorkerGroup, listeners: [ListeningSocket], shutdownSignal: Int32,
        makeService: @escaping (Configuration) -> S
    ) throws(SystemError) {
        self.index = index
        self.listeners = listeners
        self.shutdownSignal = shutdownSignal
        self.group = group
        let io = configuration.io
        ring = try Ring(submissionEntries: UInt32(io.submissionEntries), completionEntries: UInt32(io.completionEntries))
        do throws(SystemError) {
            if let missing = KernelSupport.missingOperation(on: ring) {
                throw SystemError("io_uring probe", errno: EOPNOTSUPP, context: "the kernel lacks \(missing)")
            }
            // Bulk buffers only where a recv's total limit bounds what one client takes of them,
            // and only when they are larger than the main ones.
            let bulk =
                S.input == .echoed && io.bulkBufferSize > io.bufferSize && io.receiveBundles && ring.supportsBundles
                && KernelSupport.receiveLimit
            buffers = try ReceiveBuffers(ring: ring, io: io, withBulk: bulk)
        } catch {
            ring.close()
            throw error
        }
        let capacity = configuration.server.maxConnections
        table = try ConnectionTable(capacity: capacity)
        arena = group.arenas[index]
        // Coalescing keeps most queues at one or two segments; a queue that needs more than its
        // share when the pool is empty is cut like one over its output cap.
        segments = SegmentPool(capacity: max(65536, 4 * capacity))
        rawQueues = RawEchoQueues(bufferCount: buffers.main.count, bulkCount: buffers.bulk?.count ?? 0, slots: capacity)
        vectors = try SendVectors(capacity: capacity, limit: io.sendGather)
        // Raw echo holds each buffer until its bytes are sent back, so its bundles need a bound:
        // without one a client that never reads could take most of the ring in a few
        // completions and starve the others. (A per-completion length on a multishot recv caps
        // a bundle too, but on 6.18 such a recv can miss the end of stream.) With the kernel's
        // total limit a recv ends after a quarter of a connection's buffer share, and is armed
        // again only while the connection is under its share: it holds at most 1.25 shares.
        // Line services copy and recycle at once, so theirs need none.
        if S.input == .echoed {
            receiveBundles = io.receiveBundles && ring.supportsBundles && KernelSupport.receiveLimit
            receiveLimit = UInt32(max(1, Int(rawQueues.bufferShare) / 4) * io.bufferSize)
            bulkReceiveLimit = UInt32(max(1, Int(rawQueues.bulkShare) / 4) * io.bulkBufferSize)
            streamingRead = min(Int(receiveLimit), io.bulkBufferSize)
        } else {
            receiveBundles = io.receiveBundles && ring.supportsBundles
            receiveLimit = 0
            bulkReceiveLimit = 0
            streamingRead = .max
        }
        batchWait = ring.supportsBatchWait ? io.batchWait : .zero
        cuts = .allocate(capacity: capacity)
        timeouts = TimeoutStorage(count: listeners.count + TimerEntry.allCases.count)
        drainTimeout = configuration.server.drainTimeout
        limits = ConnectionLimits(configuration)
        self.makeService = makeService
        service = makeService(configuration)
        fixedGreeting = service.fixedGreeting
        services = ServiceState(configuration: configuration, serviceNeedsPeer: service.needsPeer, worker: index, group: group)
        if let redis = configuration.cluster.redis, S.numbersGreetingsInCluster || S.clusterChannel != nil {
            cluster = RedisLink(
                redis, settings: configuration.cluster, channel: S.clusterChannel,
                waitingCapacity: min(capacity, 65536))
        } else {
            cluster = nil
        }
        log = ServerLog(worker: index, level: configuration.server.logLevel)
        group.register(ring: ring.descriptor, of: index)
    }

    deinit {
        cuts.deallocate()
        timeouts.deallocate()
    }

    var taskRunMode: TaskRunMode { ring.taskRunMode }

    // MARK: - The loop

    /// Runs until the drain ends, then closes everything this worker owns.
    func run() throws(SystemError) {
        for listener in listeners.indices { armAccept(listener) }
        ring.queuePoll(descriptor: shutdownSignal, events: UInt32(POLLIN), userData: tag(.shutdownSignal))
        ring.queuePoll(descriptor: group.handOverSignal, events: UInt32(POLLIN), userData: tag(.handOver))
        ring.queuePoll(descriptor: group.rearmSignal, events: UInt32(POLLIN), userData: tag(.rearmAccepts))
        armTick()
        armSweep()
        armReloadWatch()
        if let cluster {
            cluster.retryDue = true
            connectToRedisIfDue()
        }
        publishStatistics()  // the first heartbeat, before the first sweep (ServerStatus)
        defer { tearDown() }
        var handled: UInt32 = 0
        while !stopping {
            // A batch wait only while completions keep coming: after its window it returns even
            // with none ready, and an idle worker must sleep until there is something to do.
            if batchWait > .zero && handled > 0 {
                try ring.submitAndWait(Self.batch, window: batchWait)
            } else {
                try ring.submitAndWait(1)
            }
            now = CoarseClock.milliseconds()
            handled = ring.readyCompletions
            ring.drainCompletions { dispatch($0) }
            if ring.hasOverflow { statistics.completionOverflows += 1 }
            finishIteration()
            if buffers.publish() && rawQueues.waitingCount > 0 { rearmWaitingForBuffers() }
        }
    }

    /// The one completion handler per operation.
    @inline(__always)
    private func dispatch(_ completion: Completion) {
        guard let operation = Operation(rawValue: completion.userData.operation) else {
            assertionFailure("a completion for unknown operation \(completion.userData)")
            statistics.unknownCompletions += 1
            return
        }
        switch operation {
        case .receive: handleReceive(completion, bulk: false)
        case .bulkReceive: handleReceive(completion, bulk: true)
        case .send: handleSend(completion)
        case .accept: handleAccept(completion)
        case .acceptRetry: resumeAccept(Int(completion.userData.slot))
        case .greetClose: handleGreetClose(completion)
        case .tick: handleTick(completion)
        case .relayDoorbell: drainInbox(from: Int(completion.userData.slot))
        case .chunkRelease: arena.release(completion.userData.slot, count: UInt32(clamping: completion.result))
        case .messageFailed: statistics.messageFailures += 1
        case .shutdownSignal: beginDrain()
        case .drainDeadline: stopping = true
        case .sweep: handleSweep(completion)
        case .reload: reload()
        case .handOver: beginHandOver()
        case .handOverDeadline: if completion.result == -ETIME { beginDrain() }
        case .rearmAccepts: rearmAccepts()
        case .redisConnect: handleRedisConnect(completion)
        case .redisSend: handleRedisSend(completion)
        case .redisReceive: handleRedisReceive(completion)
        case .redisRetry: handleRedisRetry(completion)
        case .redisConnectTimeout: break  // -ETIME when it gave the connect up, which says so itself
        // These need no answer and report only a failure (closes and shutdowns are queued
        // quiet); each failure is counted.
        case .close: if completion.result < 0 { statistics.failedCloses += 1 }
        case .shutdownWrite: if completion.result < 0 { statistics.failedShutdowns += 1 }
        case .greetSend: if completion.result < 0 { statistics.failedGreetSends += 1 }
        case .cancel:
            // Nothing to cancel is no failure: the target completed first.
            let failed = completion.result < 0 && completion.result != -ENOENT && completion.result != -EALREADY
            if failed { statistics.failedCancels += 1 }
        }
    }

    /// Work the handlers leave for once per batch: cut the clients marked over their caps, post
    /// lines to the other workers, write the access log.
    private func finishIteration() {
        if S.input != .echoed { relieveMemoryPressure() }
        if cutCount > 0 { processCuts() }
        if S.reach == .everyWorker { flushPosts() }
        if cluster != nil { flushRedis() }
        services.accessLog?.flush()
        if (draining || handingOver) && table.openCount == 0 { stopping = true }
    }

    // MARK: - User data

    @inline(__always)
    func tag(_ operation: Operation, slot: UInt32 = 0, generation: UInt32 = 0) -> UserData {
        UserData(operation: operation.rawValue, slot: slot, generation: generation)
    }

    @inline(__always)
    func timerEntry(_ entry: TimerEntry) -> Int { listeners.count + entry.rawValue }
}

/// The limits a reload may change, in the units the loop compares them in.
struct ConnectionLimits {
    /// Bytes queued on one connection before reading from it pauses (`.paused` services);
    /// reading resumes below half of it.
    var outputLimit: UInt32
    /// Bytes queued for one `.cut` client before it is cut off.
    var outputCap: UInt32
    /// A `.cut` client above this for `outputSoftTime` is cut too; 0 = no soft cap.
    var outputSoftCap: UInt32
    var outputSoftTimeMilliseconds: UInt32
    /// Without input for this long, a client is closed; 0 = never.
    var idleTimeoutMilliseconds: UInt32

    init(_ configuration: Configuration) {
        let io = configuration.io
        outputLimit = UInt32(clamping: io.outputLimit)
        outputCap = UInt32(clamping: io.outputCap)
        outputSoftCap = UInt32(clamping: io.outputSoftCap)
        outputSoftTimeMilliseconds = io.outputSoftTime.clampedMilliseconds
        let idle =
            configuration.server.mode == .broadcast ? configuration.broadcast.idleTimeout : configuration.server.idleTimeout
        idleTimeoutMilliseconds = idle.clampedMilliseconds
    }
}
