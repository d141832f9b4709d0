// EventLoop: one worker's ring, listeners, receive buffers and connections, and the loop
// that drives them. One per core; it shares nothing with the others on the per-byte path.
//
// Each iteration (TigerBeetle's io/linux.zig shape): wait for completions and submit what is
// queued in the same io_uring_enter; drain every ready completion through one dispatch
// switch, where handlers only queue new submissions; release the completions with one
// advance; publish recycled buffers with one store. Handlers never recurse into the loop.
//
// Echo sends straight from the provided buffer the data arrived in, so a byte is copied once
// into user space and once out, and a buffer returns to the kernel when its send completes.
//
// Needs Linux 6.0: multishot accept and recv, provided buffer rings, IORING_OP_ASYNC_CANCEL
// by descriptor, and SINGLE_ISSUER|DEFER_TASKRUN (6.1; COOP_TASKRUN is the fallback).

import RingdConfig
import RingdServices
import Synchronization
import URing
#if canImport(Glibc)
import Glibc
#endif

/// What a completion is for; the low byte of its user data.
enum Operation: UInt8 {
    case accept = 1
    case receive
    case send
    case close
    case cancel
    case shutdownSignal
    case acceptRetry
    /// The send of a send-and-close (greet, counter); reports only a failure.
    case greetSend
    /// The close of a send-and-close. Slot: the output chunk it sent from (or `fixedMessage`);
    /// generation: the descriptor, to close by hand when a failed send cancelled the close.
    case greetClose
    /// A shutdown(SHUT_WR) before a lingering close; reports only a failure.
    case shutdownWrite
    /// The broadcast timer.
    case tick
    /// Another worker posted relay lines to this worker's inbox. Slot: the sender's index.
    case relayDoorbell
    /// Another worker is done with relayed spans of this worker's arena. Slot: the chunk
    /// index; result: how many posted spans it releases.
    case chunkRelease
    /// A MSG_RING this worker sent failed.
    case messageFailed
    /// `server.drain_timeout` passed after a shutdown signal.
    case drainDeadline
    /// The periodic look for idle and lingering connections.
    case sweep
    /// SIGHUP reloaded the configuration (this worker's eventfd became readable).
    case reload
}

/// Counters a worker keeps; logged when it stops.
struct EventLoopStatistics: CustomStringConvertible {
    var accepted = 0
    var closed = 0
    var refusedTableFull = 0
    var refusedByAccessList = 0
    /// Closed after `idle_timeout` without input.
    var closedIdle = 0
    var bufferStarvations = 0
    var acceptFailures = 0
    /// Clients cut off, one counter per `CutReason`.
    var cutOverOutputCap = 0
    var cutOverSoftCap = 0
    var cutOutputMemoryFull = 0
    /// Connections still open when `server.drain_timeout` ran out, closed at once (also in `closed`).
    var closedAtDrainDeadline = 0
    /// Output that could not be rendered because the arena or the segment pool was full.
    var outputExhausted = 0
    var relayPostsDropped = 0
    var messageFailures = 0
    /// Iterations that found completions parked by the kernel because the queue was full; they
    /// come through on the next enter (IORING_FEAT_NODROP). Raise io.completion_entries if many.
    var completionOverflows = 0
    /// Completions the kernel could not even park (ring's koverflow): 0 unless it ran out of memory.
    var completionsDropped = 0

    var description: String {
        "accepted \(accepted), closed \(closed), closed idle \(closedIdle), refused by access list \(refusedByAccessList), "
            + "refused with every slot taken \(refusedTableFull), cut over output cap \(cutOverOutputCap), "
            + "cut over soft cap \(cutOverSoftCap), cut with output memory full \(cutOutputMemoryFull), "
            + "closed at drain deadline \(closedAtDrainDeadline), "
            + "output memory exhausted \(outputExhausted), receive buffers ran out \(bufferStarvations) times, "
            + "accept failures \(acceptFailures), relay posts dropped \(relayPostsDropped), ring messages failed \(messageFailures), "
            + "completion queue overflowed \(completionOverflows) times, completions dropped \(completionsDropped)"
    }
}

/// Why a slow client is cut off; each is counted on its own.
enum CutReason: UInt8 {
    /// Its queued output would pass `io.output_cap`.
    case outputCap
    /// Its queued output stayed above `io.output_soft_cap` for `io.output_soft_time`.
    case softCap
    /// Output for it could not be stored: the worker's `io.output_memory` (or its segment pool)
    /// is full. This is the bound on all queued output, whatever each client's cap allows.
    case outputMemoryFull
}

/// What this worker serves, from `server.mode` and `echo.lines`.
enum Service: Equatable {
    /// Echo of raw bytes, sent straight from the receive buffers.
    case rawEcho
    /// Echo of complete lines, optionally numbered.
    case echoLines
    case greet
    case counter
    case broadcast
    case relay

    init(_ configuration: Configuration) {
        switch configuration.server.mode {
        case .echo:
            // Numbering and the access log are about lines, so either turns line mode on.
            let echo = configuration.echo
            self = echo.lines || echo.lineNumbers || echo.accessLog ? .echoLines : .rawEcho
        case .greet: self = .greet
        case .counter: self = .counter
        case .broadcast: self = .broadcast
        case .relay: self = .relay
        }
    }

    /// Input is cut into lines.
    var framesLines: Bool { self == .echoLines || self == .relay }
    /// Output is pushed to clients that did not ask for it, so a slow one is cut, not waited for.
    var pushes: Bool { self == .broadcast || self == .relay }
}

final class EventLoop {
    let index: Int
    let ring: Ring
    let buffers: ProvidedBufferRing
    let table: ConnectionTable
    let listeners: [ListeningSocket]
    let shutdownSignal: Int32
    let bufferGroup: UInt16 = 0
    let group: WorkerGroup
    let service: Service
    let arena: OutputArena
    let segments: SegmentPool

    /// Per-buffer links and lengths for the raw echo send queues (see Connection.queueHead).
    let nextInQueue: UnsafeMutablePointer<UInt16>
    let bufferLength: UnsafeMutablePointer<UInt32>
    /// Slots whose recv stopped with ENOBUFS, re-armed when buffers are recycled.
    let waitingForBuffers: UnsafeMutablePointer<UInt32>
    var waitingCount = 0
    /// Timespecs: one per listener (the accept retry after EMFILE), then one per TimerEntry.
    let timeouts: TimeoutStorage
    /// Receive buffers one raw echo connection may hold unsent before its recv is paused: a
    /// sixteenth of the pool, so a few clients that never read cannot take every buffer.
    let bufferShare: UInt16
    /// Bytes queued on one echo connection before its recv is paused; resumed below half of it.
    var outputLimit: UInt32
    /// Bytes queued on one broadcast or relay client before it is cut off.
    var outputCap: UInt32
    /// A push client above this for `outputSoftTime` milliseconds is cut too; 0 = no soft cap.
    var outputSoftCap: UInt32
    var outputSoftTime: UInt32
    /// Slots (and their generations) to cut at the end of the iteration, and why.
    let cuts: UnsafeMutablePointer<(slot: UInt32, generation: UInt32, reason: CutReason)>
    var cutCount = 0

    var stopping = false
    /// A shutdown signal came: no more accepts, connections close as their output drains.
    var draining = false
    let drainTimeout: Duration
    /// Milliseconds without input after which a client is closed; 0 = never.
    var idleTimeout: UInt32
    /// The worker's coarse clock in milliseconds, read once per iteration.
    var now: UInt32 = 0
    var statistics = EventLoopStatistics()
    var log: ServerLog
    var cutReport = RateLimitedReport()
    /// This worker's arena counted in `group.arenasLow`.
    var arenaReportedLow = false
    /// When the last memory-pressure scan ran (the coarse clock), so one runs at most every 10 ms.
    var lastPressureScan: UInt32 = 0
    /// Generations of the broadcast and sweep timers, bumped when a reload replaces them.
    var timerGeneration: UInt32 = 0
    var sweepGeneration: UInt32 = 0
    /// Listeners (a bit each) whose accept is paused after EMFILE/ENFILE.
    var acceptPausedListeners: UInt64 = 0
    var acceptFailureReport = RateLimitedReport()
    /// Greet and counter connections whose send-and-close has not completed (`{clients}`).
    var greetingsInFlight = 0
    let services: ServiceState

    /// Builds the worker's ring and buffers. Must run on the worker's own thread: with
    /// SINGLE_ISSUER the creating thread is the only one allowed to submit.
    init(index: Int, configuration: Configuration, group: WorkerGroup, listeners: [ListeningSocket], shutdownSignal: Int32) throws(SystemError) {
        self.index = index
        self.listeners = listeners
        self.shutdownSignal = shutdownSignal
        self.group = group
        service = Service(configuration)
        let io = configuration.io
        ring = try Ring(submissionEntries: UInt32(io.submissionEntries), completionEntries: UInt32(io.completionEntries))
        do throws(SystemError) {
            if let missing = KernelSupport.missingOperation(on: ring) {
                throw SystemError("io_uring probe", errno: EOPNOTSUPP, context: "the kernel lacks \(missing)")
            }
            buffers = try ProvidedBufferRing(ring: ring, group: bufferGroup, count: io.bufferCount, bufferSize: io.bufferSize)
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
        nextInQueue = .allocate(capacity: io.bufferCount)
        nextInQueue.initialize(repeating: noBuffer, count: io.bufferCount)
        bufferLength = .allocate(capacity: io.bufferCount)
        bufferLength.initialize(repeating: 0, count: io.bufferCount)
        waitingForBuffers = .allocate(capacity: capacity)
        cuts = .allocate(capacity: capacity)
        timeouts = TimeoutStorage(count: listeners.count + TimerEntry.allCases.count)
        idleTimeout = Self.idleMilliseconds(configuration)
        drainTimeout = configuration.server.drainTimeout
        outputLimit = UInt32(clamping: io.outputLimit)
        bufferShare = UInt16(clamping: max(2, io.bufferCount / 16))
        outputCap = UInt32(clamping: io.outputCap)
        outputSoftCap = UInt32(clamping: io.outputSoftCap)
        outputSoftTime = Self.milliseconds(io.outputSoftTime)
        services = ServiceState(configuration: configuration, service: service, worker: index, group: group)
        log = ServerLog(worker: index, level: configuration.server.logLevel)
        group.register(ring: ring.descriptor, of: index)
    }

    deinit {
        nextInQueue.deallocate()
        bufferLength.deallocate()
        waitingForBuffers.deallocate()
        cuts.deallocate()
        timeouts.deallocate()
    }

    var taskRunMode: TaskRunMode { ring.taskRunMode }

    // MARK: - The loop

    /// Runs until the shutdown signal fires, then closes everything this worker owns.
    func run() throws(SystemError) {
        for listener in listeners.indices { armAccept(listener) }
        ring.queuePoll(descriptor: shutdownSignal, events: UInt32(POLLIN), userData: tag(.shutdownSignal))
        if service == .broadcast { armTick() }
        armSweep()
        armReloadWatch()
        defer { tearDown() }
        while !stopping {
            try ring.submitAndWait(1)
            now = CoarseClock.milliseconds()
            let ready = ring.readyCompletions
            var position: UInt32 = 0
            while position < ready {
                dispatch(ring.completion(at: position))
                position += 1
            }
            ring.advance(by: ready)
            if ring.hasOverflow { statistics.completionOverflows += 1 }
            finishIteration()
            if buffers.publish() && waitingCount > 0 { rearmWaitingForBuffers() }
        }
    }

    @inline(__always)
    private func dispatch(_ completion: Completion) {
        switch Operation(rawValue: completion.userData.operation) {
        case .receive: handleReceive(completion)
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
        case .sweep: sweep(completion)
        case .reload: reload()
        case .close, .cancel, .greetSend, .shutdownWrite, nil: break
        }
    }

    /// Work the handlers leave for once per batch: cut the clients marked over their caps, post
    /// relayed lines to the other workers, write the access log.
    private func finishIteration() {
        if service != .rawEcho { relieveMemoryPressure() }
        if cutCount > 0 { processCuts() }
        if service == .relay { flushRelayPosts() }
        services.accessLog?.flush()
        if draining && table.openCount == 0 { stopping = true }
    }

    /// SIGTERM or SIGINT: stop accepting and ticking; close idle connections now and the others
    /// once what is queued for them has gone out, or at `server.drain_timeout`, whichever is first.
    private func beginDrain() {
        guard !draining else { return }
        draining = true
        for listener in listeners.indices {
            ring.queueCancel(target: tag(.accept, slot: UInt32(listener)), userData: tag(.cancel))
        }
        // Close the listeners too, once the cancels are in the kernel: a client that connects
        // during the drain is refused instead of waiting in a backlog nobody accepts from.
        try? ring.submit()
        listeners.forEach { $0.close() }
        if service == .broadcast { ring.queueCancel(target: tag(.tick, generation: timerGeneration), userData: tag(.cancel)) }
        table.forEachOpen { slot, connection in
            if connection.pointee.sendInFlight || hasQueuedOutput(connection) {
                closeAfterOutput(slot, connection)
            } else {
                beginClose(slot, connection)
            }
        }
        if drainTimeout == .zero {
            stopping = true
        } else {
            ring.queueTimeout(after: drainTimeout, storage: timeouts, index: timerEntry(.drainDeadline), userData: tag(.drainDeadline))
        }
    }

    /// The worker's own timers, after the listeners' entries in `timeouts`.
    enum TimerEntry: Int, CaseIterable {
        case tick, drainDeadline, sweep
    }

    @inline(__always)
    func timerEntry(_ entry: TimerEntry) -> Int { listeners.count + entry.rawValue }

    // MARK: - Reloading

    private static func idleMilliseconds(_ configuration: Configuration) -> UInt32 {
        milliseconds(configuration.server.mode == .broadcast ? configuration.broadcast.idleTimeout : configuration.server.idleTimeout)
    }

    private static func milliseconds(_ duration: Duration) -> UInt32 {
        UInt32(clamping: duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    private func armReloadWatch() {
        ring.queuePoll(descriptor: group.reloadDescriptor(of: index), events: UInt32(POLLIN), userData: tag(.reload))
    }

    /// SIGHUP: takes the configuration the main thread checked and published. Timers whose
    /// interval changed are cancelled and armed again under a new generation, so the cancelled
    /// one's last completion is recognised and dropped.
    private func reload() {
        group.acknowledgeReload(of: index)
        if !draining { armReloadWatch() }
        guard let configuration = group.publishedConfiguration else { return }
        log.setLevel(configuration.server.logLevel)
        outputLimit = UInt32(clamping: configuration.io.outputLimit)
        outputCap = UInt32(clamping: configuration.io.outputCap)
        outputSoftCap = UInt32(clamping: configuration.io.outputSoftCap)
        outputSoftTime = Self.milliseconds(configuration.io.outputSoftTime)
        let oldIdle = idleTimeout
        idleTimeout = Self.idleMilliseconds(configuration)
        let oldInterval = services.broadcastInterval
        services.reconfigure(configuration, service: service)
        if service == .broadcast && services.broadcastInterval != oldInterval && !draining {
            ring.queueCancel(target: tag(.tick, generation: timerGeneration), userData: tag(.cancel))
            timerGeneration &+= 1
            armTick()
        }
        if idleTimeout != oldIdle && !draining {
            ring.queueCancel(target: tag(.sweep, generation: sweepGeneration), userData: tag(.cancel))
            sweepGeneration &+= 1
            armSweep()
        }
        log.write(.info, "configuration reloaded")
    }

    // MARK: - Idle connections

    /// How long a connection may linger after its FIN (waiting for the peer's) before it is closed.
    static let lingerLimit: UInt32 = 5000

    private func armSweep() {
        // Often enough that a client is closed within a quarter of idle_timeout past it.
        let interval: Duration = idleTimeout == 0 ? .seconds(1) : .milliseconds(max(10, min(1000, Int(idleTimeout / 4))))
        ring.queueRepeatingTimeout(every: interval, storage: timeouts, index: timerEntry(.sweep),
                                   userData: tag(.sweep, generation: sweepGeneration))
    }

    /// Closes clients idle past `idleTimeout` and lingering past `lingerLimit`, and cuts push
    /// clients that stayed above the soft output cap for `outputSoftTime`.
    private func sweep(_ completion: Completion) {
        guard completion.userData.generation == sweepGeneration else { return }  // replaced by a reload
        if !completion.hasMore && !stopping { armSweep() }
        guard completion.result == -ETIME else { return }
        table.forEachOpen { slot, connection in
            guard !connection.pointee.cutPending else { return }
            if service.pushes && outputSoftCap > 0 { checkSoftCap(slot, connection) }
            let quiet = now &- connection.pointee.lastActivity
            if connection.pointee.lingering {
                if quiet >= Self.lingerLimit { beginClose(slot, connection) }
            } else if idleTimeout > 0 && quiet >= idleTimeout {
                statistics.closedIdle += 1
                log.write(.debug, client: connection.pointee.descriptor, "closed: no input for \(quiet) ms (idle timeout \(idleTimeout) ms)")
                if connection.pointee.sendInFlight || hasQueuedOutput(connection) {
                    beginClose(slot, connection)  // it neither sends nor reads: no reason to wait
                } else {
                    closeAfterOutput(slot, connection)
                }
            }
        }
    }

    private func checkSoftCap(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard connection.pointee.queuedBytes > outputSoftCap else {
            connection.pointee.overSoftCapSince = 0
            return
        }
        if connection.pointee.overSoftCapSince == 0 {
            connection.pointee.overSoftCapSince = now | 1  // never 0 while over
        } else if now &- connection.pointee.overSoftCapSince >= outputSoftTime {
            cut(slot, connection, .softCap)
        }
    }

    // MARK: - Accept

    private func armAccept(_ listener: Int) {
        guard !draining else { return }
        ring.queueMultishotAccept(listener: listeners[listener].descriptor, userData: tag(.accept, slot: UInt32(listener)))
    }

    /// Re-arms an accept paused by EMFILE/ENFILE, once: from its timer or a close, whichever
    /// comes first (the other then finds nothing to do).
    private func resumeAccept(_ listener: Int) {
        guard acceptPausedListeners & (1 << listener) != 0 else { return }
        acceptPausedListeners &= ~(1 << listener)
        armAccept(listener)
    }

    private func handleAccept(_ completion: Completion) {
        let listener = Int(completion.userData.slot)
        if completion.result == -ECANCELED { return }  // stopped at shutdown
        if completion.result >= 0 {
            openConnection(descriptor: completion.result)
        } else if CompletionError(errno: -completion.result) == .resourceExhausted {
            // Out of descriptors: accepting again at once would fail at once. Wait, then retry;
            // the pending connections stay in the listen backlog meanwhile.
            // A closing connection frees a descriptor sooner than the timer: see finishCloseIfIdle.
            statistics.acceptFailures += 1
            if let count = acceptFailureReport.count() {
                log.write(.warning, "accept failed \(count) time\(count == 1 ? "" : "s") with \(errnoName(-completion.result)) (out of descriptors); retrying in 100 ms or when a connection closes. Fix: raise `ulimit -n` or lower server.max_connections")
            }
            if !completion.hasMore && acceptPausedListeners & (1 << listener) == 0 {
                acceptPausedListeners |= 1 << listener
                ring.queueTimeout(after: .milliseconds(100), storage: timeouts, index: listener,
                                  userData: tag(.acceptRetry, slot: UInt32(listener)))
            }
            return
        } else {
            statistics.acceptFailures += 1
        }
        if !completion.hasMore { armAccept(listener) }
    }

    private func openConnection(descriptor: Int32) {
        guard !draining else {
            _ = close(descriptor)
            return
        }
        var peer = Peer.unknown
        if services.needsPeer {
            peer = Peer(ofSocket: descriptor) ?? .unknown
            if let access = services.access, access.decide(peer.address) == .deny {
                // Refused at once, before any byte is read or written.
                statistics.refusedByAccessList += 1
                log.write(.debug, client: descriptor, "refused by access.allow / access.deny")
                ring.queueClose(descriptor: descriptor, userData: tag(.close), quiet: true)
                return
            }
        }
        if service == .greet || service == .counter {
            statistics.accepted += 1
            sendGreetingAndClose(descriptor, peer: peer)
            return
        }
        guard let slot = table.open(descriptor: descriptor) else {
            statistics.refusedTableFull += 1
            log.write(.debug, client: descriptor, "refused: all \(table.capacity) connection slots (server.max_connections) are taken")
            refuseBusy(descriptor)
            return
        }
        statistics.accepted += 1
        log.write(.trace, client: descriptor, "connected")
        // TCP_NODELAY comes from the listener: accepted sockets inherit it, no syscall here.
        let connection = table[slot]
        connection.pointee.lastActivity = now
        if service != .rawEcho { startService(slot, connection, peer: peer) }
        if connection.pointee.state == .open && !connection.pointee.receiveArmed { armReceive(slot, connection) }
    }

    // MARK: - Receive

    @inline(__always)
    func armReceive(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        connection.pointee.receiveArmed = true
        ring.queueMultishotReceive(socket: connection.pointee.descriptor, group: bufferGroup,
                                   userData: tag(.receive, slot: slot, generation: connection.pointee.generation))
    }

    private func handleReceive(_ completion: Completion) {
        let bufferID = completion.bufferID
        if let bufferID { buffers.take(bufferID) }
        guard let connection = table.live(completion.userData) else {
            // Cannot happen while slots are released only after their last completion; if it
            // does, the buffer still goes back.
            if let bufferID { buffers.recycle(bufferID) }
            return
        }
        let slot = completion.userData.slot
        if !completion.hasMore { connection.pointee.receiveArmed = false }

        if completion.result > 0, let bufferID {
            // A received buffer's life: (1) the kernel filled it; (2a) raw echo queues it to be
            // sent back and recycles it when that send completes; (2b) every other service reads
            // it here, copying what it keeps, and recycles it at once; (2c) input for a closing
            // or lingering connection is dropped and recycled.
            if connection.pointee.state == .open && !connection.pointee.lingering && !connection.pointee.closeAfterOutput {
                connection.pointee.lastActivity = now
                if service == .rawEcho {
                    enqueue(bufferID, length: UInt32(completion.result), on: slot, connection)
                } else {
                    let input = UnsafeRawBufferPointer(start: buffers.bytes(of: bufferID), count: Int(completion.result))
                    consume(input, slot, connection)
                    buffers.recycle(bufferID)
                }
            } else {
                buffers.recycle(bufferID)
            }
        } else if completion.result == 0 {
            connection.pointee.peerFinished = true
            if connection.pointee.state == .open && !connection.pointee.lingering && service == .echoLines {
                finishLines(slot, connection)
            }
        } else if completion.result < 0 {
            switch CompletionError(errno: -completion.result) {
            case .noBuffers:
                // The group ran dry. The data is still in the socket: nothing is lost. The
                // recv is re-armed once buffers are recycled, not now, which would spin.
                statistics.bufferStarvations += 1
                waitForBuffers(slot, connection)
            case .cancelled:
                break
            default:
                beginClose(slot, connection)
            }
        }

        // The handlers above may have closed the connection and released its slot; a released
        // slot may already belong to someone else by the next completion, so stop here.
        guard connection.pointee.state != .free, connection.pointee.generation == completion.userData.generation else { return }
        if connection.pointee.state == .closing {
            finishCloseIfIdle(slot, connection)
        } else if !connection.pointee.receiveArmed {
            if connection.pointee.peerFinished {
                if !connection.pointee.sendInFlight && !hasQueuedOutput(connection) { beginClose(slot, connection) }
            } else if !connection.pointee.receivePaused && !connection.pointee.waitingForBuffers {
                armReceive(slot, connection)
            }
        }
    }

    private func waitForBuffers(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        connection.pointee.waitingForBuffers = true
        if !connection.pointee.listedAsWaiting {
            connection.pointee.listedAsWaiting = true
            waitingForBuffers[waitingCount] = slot
            waitingCount += 1
        }
    }

    private func rearmWaitingForBuffers() {
        var position = 0
        while position < waitingCount && buffers.available > 0 {
            let slot = waitingForBuffers[position]
            position += 1
            let connection = table[slot]
            connection.pointee.listedAsWaiting = false
            guard connection.pointee.state == .open, connection.pointee.waitingForBuffers else { continue }
            connection.pointee.waitingForBuffers = false
            if !connection.pointee.receiveArmed && !connection.pointee.receivePaused { armReceive(slot, connection) }
        }
        // Keep the ones not reached, in order.
        let remaining = waitingCount - position
        if remaining > 0 && position > 0 { waitingForBuffers.update(from: waitingForBuffers + position, count: remaining) }
        waitingCount = remaining
    }

    // MARK: - Send

    @inline(__always)
    private func enqueue(_ bufferID: UInt16, length: UInt32, on slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        bufferLength[Int(bufferID)] = length
        nextInQueue[Int(bufferID)] = noBuffer
        if connection.pointee.queueTail == noBuffer {
            connection.pointee.queueHead = bufferID
        } else {
            nextInQueue[Int(connection.pointee.queueTail)] = bufferID
        }
        connection.pointee.queueTail = bufferID
        connection.pointee.queuedBytes += length
        connection.pointee.heldBuffers += 1
        if !connection.pointee.sendInFlight { sendHead(slot, connection) }
        pauseReceiveIfOverLimit(slot, connection)
    }

    @inline(__always)
    func hasQueuedOutput(_ connection: UnsafeMutablePointer<Connection>) -> Bool {
        connection.pointee.queueHead != noBuffer || connection.pointee.outputHead != SegmentPool.none
    }

    @inline(__always)
    private func sendHead(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        let head = connection.pointee.queueHead
        let offset = Int(connection.pointee.sentFromHead)
        connection.pointee.sendInFlight = true
        ring.queueSend(socket: connection.pointee.descriptor, bytes: buffers.bytes(of: head) + offset,
                       length: Int(bufferLength[Int(head)]) - offset,
                       userData: tag(.send, slot: slot, generation: connection.pointee.generation))
    }

    /// A send completed, from either queue: raw echo's receive buffers or the rendered
    /// segments of every other service. Only retiring the head differs between the two.
    private func handleSend(_ completion: Completion) {
        guard let connection = table.live(completion.userData) else { return }
        let slot = completion.userData.slot
        connection.pointee.sendInFlight = false
        if connection.pointee.state == .closing {
            finishCloseIfIdle(slot, connection)
            return
        }
        guard completion.result > 0 else {
            // EPIPE and ECONNRESET are a peer that left: a normal close.
            beginClose(slot, connection)
            return
        }
        let sent = UInt32(completion.result)
        connection.pointee.queuedBytes -= sent
        connection.pointee.sentFromHead += sent
        if service == .rawEcho { retireSentBuffer(connection) } else { retireSentSegment(connection) }
        if hasQueuedOutput(connection) {
            sendNext(slot, connection)   // a short send resumes where it stopped
        } else if connection.pointee.closeAfterOutput {
            closeGracefully(slot, connection)
            return
        } else if connection.pointee.peerFinished && !connection.pointee.receiveArmed {
            beginClose(slot, connection)  // half-close: everything owed is sent
            return
        }
        resumeReceiveIfDrained(slot, connection)
    }

    @inline(__always)
    private func sendNext(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        if service == .rawEcho { sendHead(slot, connection) } else { sendOutputHead(slot, connection) }
    }

    /// Recycles the head receive buffer once all of it has been sent.
    @inline(__always)
    private func retireSentBuffer(_ connection: UnsafeMutablePointer<Connection>) {
        let head = connection.pointee.queueHead
        guard connection.pointee.sentFromHead == bufferLength[Int(head)] else { return }
        connection.pointee.queueHead = nextInQueue[Int(head)]
        if connection.pointee.queueHead == noBuffer { connection.pointee.queueTail = noBuffer }
        connection.pointee.sentFromHead = 0
        connection.pointee.heldBuffers -= 1
        buffers.recycle(head)
    }

    // MARK: - Back-pressure

    /// An echo client that sends faster than it reads: stop reading until its queue drains, and
    /// TCP flow control slows the client down. The queue is bounded in bytes
    /// (`io.output_limit`) and, for raw echo, in receive buffers held (`bufferShare`).
    @inline(__always)
    func pauseReceiveIfOverLimit(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard connection.pointee.queuedBytes > outputLimit || connection.pointee.heldBuffers > bufferShare,
              connection.pointee.receiveArmed && !connection.pointee.receivePaused
        else { return }
        connection.pointee.receivePaused = true
        ring.queueCancel(target: tag(.receive, slot: slot, generation: connection.pointee.generation), userData: tag(.cancel))
    }

    /// Reading resumes once the queue is down to half of both bounds.
    @inline(__always)
    private func resumeReceiveIfDrained(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard connection.pointee.receivePaused && connection.pointee.queuedBytes <= outputLimit / 2
            && connection.pointee.heldBuffers <= bufferShare / 2
        else { return }
        connection.pointee.receivePaused = false
        if !connection.pointee.receiveArmed && !connection.pointee.peerFinished && !connection.pointee.waitingForBuffers {
            armReceive(slot, connection)
        }
    }

    // MARK: - Close

    /// Starts closing: cancels what is in flight; the slot is released after the last completion.
    func beginClose(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard connection.pointee.state == .open else { return }
        connection.pointee.state = .closing
        if service == .relay { relayDisconnect(slot) }
        if connection.pointee.receiveArmed || connection.pointee.sendInFlight {
            ring.queueCancelAll(descriptor: connection.pointee.descriptor, userData: tag(.cancel))
        } else {
            finishCloseIfIdle(slot, connection)
        }
    }

    func finishCloseIfIdle(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard !connection.pointee.receiveArmed && !connection.pointee.sendInFlight else { return }
        var buffer = connection.pointee.queueHead
        while buffer != noBuffer {
            let next = nextInQueue[Int(buffer)]
            buffers.recycle(buffer)
            buffer = next
        }
        dropOutput(connection)
        if service != .rawEcho { stopService(slot) }
        log.write(.trace, client: connection.pointee.descriptor, "closed")
        ring.queueClose(descriptor: connection.pointee.descriptor, userData: tag(.close), quiet: true)
        table.release(slot)
        statistics.closed += 1
        if acceptPausedListeners != 0 {
            // The close above frees a descriptor: accepting can start again. (The close is
            // queued before the accept, and SQEs start in order.)
            for listener in listeners.indices { resumeAccept(listener) }
        }
    }

    /// Marks a client to be cut at the end of the iteration: it is over its output cap, or its
    /// output could not be stored. Cutting later keeps fan-out loops free of re-entry.
    func cut(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>, _ reason: CutReason) {
        guard connection.pointee.state == .open && !connection.pointee.cutPending else { return }
        connection.pointee.cutPending = true
        cuts[cutCount] = (slot, connection.pointee.generation, reason)
        cutCount += 1
    }

    private func processCuts() {
        // Cutting a relay client tells the others it left, which can mark more clients; the
        // list is drained until it stays empty.
        var position = 0
        while position < cutCount {
            let (slot, generation, reason) = cuts[position]
            position += 1
            let connection = table[slot]
            guard connection.pointee.state == .open && connection.pointee.generation == generation else { continue }
            switch reason {
            case .outputCap: statistics.cutOverOutputCap += 1
            case .softCap: statistics.cutOverSoftCap += 1
            case .outputMemoryFull: statistics.cutOutputMemoryFull += 1
            }
            log.write(.debug, client: connection.pointee.descriptor, "cut: \(describe(reason)), \(connection.pointee.queuedBytes) bytes queued")
            if let count = cutReport.count() {
                log.write(.info, "cut \(count) slow client\(count == 1 ? "" : "s"); so far \(statistics.cutOverOutputCap) over io.output_cap, "
                    + "\(statistics.cutOverSoftCap) over io.output_soft_cap for io.output_soft_time, \(statistics.cutOutputMemoryFull) with output memory full")
            }
            // A reset, not a FIN: the kernel drops what it still holds for the client (megabytes
            // of socket buffer for a stalled reader) instead of trickling it out after the close.
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            _ = setsockopt(connection.pointee.descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            beginClose(slot, connection)
        }
        cutCount = 0
    }

    /// The global bound on queued output: each worker's `io.output_memory`. Per-client caps
    /// alone cannot keep many slow clients from pinning all of it (heartbeats they have not
    /// taken, echo replies up to `io.output_limit` each), and a full arena stops output for
    /// everyone. So while any arena is low, the clients furthest behind (queues of at least half
    /// the longest, and more than one chunk) are cut, and their chunks come back.
    private func relieveMemoryPressure() {
        let low = arena.isLow
        if low != arenaReportedLow {
            arenaReportedLow = low
            if low { group.arenasLow.add(1, ordering: .relaxed) } else { group.arenasLow.subtract(1, ordering: .relaxed) }
        }
        guard group.arenasLow.load(ordering: .relaxed) > 0, now &- lastPressureScan >= 10 else { return }
        lastPressureScan = now
        var longest: UInt32 = 0
        table.forEachOpen { _, connection in
            if !connection.pointee.cutPending { longest = max(longest, connection.pointee.queuedBytes) }
        }
        let threshold = max(longest / 2, UInt32(arena.chunkSize))
        guard longest >= threshold else { return }
        table.forEachOpen { slot, connection in
            if connection.pointee.queuedBytes >= threshold { cut(slot, connection, .outputMemoryFull) }
        }
    }

    private func describe(_ reason: CutReason) -> String {
        switch reason {
        case .outputCap: "queued output would pass io.output_cap (\(outputCap) bytes)"
        case .softCap: "queued output stayed above io.output_soft_cap (\(outputSoftCap) bytes) for io.output_soft_time (\(outputSoftTime) ms)"
        case .outputMemoryFull: "output memory (io.output_memory) ran low"
        }
    }

    // MARK: - Shutdown

    /// Releases what `init` built when start-up failed elsewhere and `run` never ran.
    func tearDownWithoutRunning() { tearDown() }

    private func tearDown() {
        // Closes queued by the last iteration (the last connections of a drain) go to the kernel
        // before the ring does; closing the ring would otherwise drop them and leave those
        // clients connected until the process exits.
        try? ring.submit()
        statistics.completionsDropped = Int(ring.droppedCompletions)
        if statistics.completionsDropped > 0 {
            log.write(.error, "the kernel dropped \(statistics.completionsDropped) completions it could not queue (out of memory?)")
        }
        table.forEachHeld { slot, connection in
            if draining {
                // Still open at server.drain_timeout: output it was owed is dropped.
                statistics.closedAtDrainDeadline += 1
                statistics.closed += 1
                log.write(.debug, client: connection.pointee.descriptor, "closed at server.drain_timeout with \(connection.pointee.queuedBytes) bytes unsent")
            }
            _ = close(connection.pointee.descriptor)
            if service != .rawEcho { stopService(slot) }
        }
        listeners.forEach { $0.close() }
        // Closing the ring cancels every request still in flight; only then may the buffer
        // memory those requests point into be unmapped.
        ring.close()
        buffers.close()
        table.releaseAllAfterShutdown()
    }

    // MARK: - User data

    @inline(__always)
    func tag(_ operation: Operation, slot: UInt32 = 0, generation: UInt32 = 0) -> UserData {
        UserData(operation: operation.rawValue, slot: slot, generation: generation)
    }
}
