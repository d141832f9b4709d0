// ConnectWorker: one thread of `bench connect`: connect, read until the server closes, close,
// and again, in `loops` parallel loops on one ring.
//
// The connect is a nonblocking connect(2); the multishot recv (Linux 6.0, provided buffers) is
// armed at once on the connecting socket: TCP answers a recv in SYN_SENT with EAGAIN, so io_uring
// parks it on the socket's wait queue and it completes with the greeting, then with EOF (or with
// ECONNREFUSED when the server refuses). The close goes through the ring, batched with the next
// submissions. Per connection that is socket, connect, and two completions: no poll, no epoll_ctl.

#if canImport(Glibc)
import Glibc
#endif
import Histogram
import RingdSystem
import URing

struct ConnectPlan: Sendable {
    var endpoint: SocketAddress
    var socketOptions: SocketOptions
    var loops: Int
    var firstLoop: Int
    /// Measured connections this worker starts (count runs); nil for duration runs.
    var quota: UInt64?
    /// Parse each reply's first decimal number and require it to rise within each loop and to
    /// be unique across all loops.
    var checkIncreasing: Bool
    var stallTimeout: Duration
}

struct ConnectLoop: ReceivingConnection {
    var descriptor: Int32 = -1
    var generation: UInt32 = 0
    var isOpen = false
    var receiveArmed = false
    /// Retired after a connect failure, or when the run needs no more connections.
    var isIdle = false
    /// When connect(2) was called for the current connection.
    var started: UInt64 = 0
    var lastProgress: UInt64 = 0
    var bytes: UInt64 = 0
    // The reply's first decimal number, parsed as bytes arrive.
    var value: UInt64 = 0
    var digits: Int = 0
    var numberEnded = false
    // The loop's previous value, for --check-increasing.
    var previous: UInt64 = 0
    var hasPrevious = false
}

final class ConnectWorker: BenchWorker, @unchecked Sendable {
    // @unchecked: owned by its thread between start and join; results read after the join.
    let plan: ConnectPlan
    let control: RunControl
    let progress = WorkerProgress()

    private(set) var histogram = makeLatencyHistogram()
    private(set) var measuredCompleted: UInt64 = 0
    private(set) var measuredBytes: UInt64 = 0
    private(set) var lastMeasuredCompletion: UInt64 = 0
    private(set) var errors = ErrorLog()
    private(set) var setupFailure: ClientError?
    /// Every counter value seen, for the duplicate check after the run.
    private(set) var values: [UInt64] = []

    private let loops: UnsafeMutablePointer<ConnectLoop>
    private var idleLoops = 0
    private var errorCount: UInt64 = 0
    private var totalCompleted: UInt64 = 0
    private var measuredStarted: UInt64 = 0
    /// When the newest connection started as warm-up was started; see refreshControl().
    private var newestWarmupStart: UInt64 = 0
    private var now: UInt64 = 0
    private var measureStart: UInt64 = .max
    private var measureEnd: UInt64 = .max
    private var stopIssuing = false
    private var lastStallCheck: UInt64 = 0

    init(plan: ConnectPlan, control: RunControl) {
        self.plan = plan
        self.control = control
        loops = .allocate(capacity: plan.loops)
        loops.initialize(repeating: ConnectLoop(), count: plan.loops)
        if plan.checkIncreasing { values.reserveCapacity(1 << 16) }
    }

    deinit {
        loops.deallocate()
    }

    func run() {
        defer { control.finished.add(1, ordering: .releasing) }
        let ring: WorkerRing
        do {
            // Greetings are small: 4 KiB buffers, two per loop.
            ring = try WorkerRing(connections: plan.loops, bufferSize: 4096)
        } catch {
            setupFailure = error
            control.failed.add(1, ordering: .releasing)
            return
        }
        defer { ring.tearDown(closing: loops, count: plan.loops) }
        control.ready.add(1, ordering: .releasing)
        guard control.waitForStart() else { return }
        now = monotonicNanoseconds()
        lastStallCheck = now
        refreshControl()
        for slot in 0..<plan.loops { startConnection(ring, slot) }
        loop(ring)
    }

    private func loop(_ ring: WorkerRing) {
        ring.armTickIfIdle()
        while idleLoops < plan.loops {
            do {
                try ring.ring.submitAndWait(1)
            } catch {
                record(.reset) { "io_uring_enter failed: \(error)" }
                return
            }
            now = monotonicNanoseconds()
            ring.ring.drainCompletions { dispatch(ring, $0) }
            ring.publishBuffers(rearming: loops)
            refreshControl()
            progress.completed.store(totalCompleted, ordering: .relaxed)
            progress.errors.store(errorCount, ordering: .relaxed)
            if control.stop.load(ordering: .relaxed) { return }
        }
    }

    private func refreshControl() {
        if measureStart == .max {
            // Connections started while this worker still saw no window were started as warm-up,
            // outside the --count quota, so they must finish as warm-up too: this worker's window
            // opens after the newest of them (see EchoWorker.refreshControl).
            let start = control.measureStart.load(ordering: .relaxed)
            if start != .max { measureStart = max(start, newestWarmupStart &+ 1) }
        }
        measureEnd = control.measureEnd.load(ordering: .relaxed)
        stopIssuing = control.stopIssuing.load(ordering: .relaxed)
    }

    @inline(__always)
    private func dispatch(_ ring: WorkerRing, _ completion: Completion) {
        switch WorkerOperation(rawValue: completion.userData.operation) {
        case .receive: handleReceive(ring, completion)
        case .tick: handleTick(ring)
        case .close:
            // Only a failed close completes (the SQE is quiet); nothing to undo.
            break
        case .connectPoll, .send, .schedule, nil: break
        }
    }

    // MARK: - One connection

    /// Starts the next connection of loop `slot`, or retires the loop when the run needs no more.
    private func startConnection(_ ring: WorkerRing, _ slot: Int) {
        let loop = loops + slot
        let measured = now >= measureStart
        if stopIssuing || (measured && plan.quota.map { measuredStarted >= $0 } ?? false) {
            retire(slot)
            return
        }
        let descriptor: Int32
        do {
            descriptor = try ClientSocket.open(for: plan.endpoint, options: plan.socketOptions, sourceIndex: plan.firstLoop + slot)
        } catch {
            record(.connectFailed) { error.description }
            retire(slot)
            return
        }
        let code = ClientSocket.startConnect(descriptor, to: plan.endpoint)
        if code != 0 && code != EINPROGRESS {
            _ = close(descriptor)
            record(.connectFailed) { connectFailure(code, plan.endpoint) }
            retire(slot)
            return
        }
        if measured {
            measuredStarted &+= 1
        } else if now > newestWarmupStart {
            newestWarmupStart = now
        }
        loop.pointee.descriptor = descriptor
        loop.pointee.isOpen = true
        loop.pointee.started = now
        loop.pointee.lastProgress = now
        loop.pointee.bytes = 0
        loop.pointee.value = 0
        loop.pointee.digits = 0
        loop.pointee.numberEnded = false
        ring.armReceive(loops, slot)
    }

    private func retire(_ slot: Int) {
        guard !loops[slot].isIdle else { return }
        loops[slot].isIdle = true
        idleLoops += 1
    }

    private func handleReceive(_ ring: WorkerRing, _ completion: Completion) {
        // Buffer life: taken here, parsed if needed, recycled before returning on every path.
        guard let loop = ring.liveReceiver(of: completion, in: loops) else { return }
        let bufferID = completion.bufferID
        let slot = Int(completion.userData.slot)
        let result = completion.result
        if result > 0 {
            if let bufferID {
                if plan.checkIncreasing { parseNumber(slot, ring.buffers.bytes(of: bufferID), length: Int(result)) }
                ring.buffers.recycle(bufferID)
            }
            loop.pointee.bytes &+= UInt64(result)
            loop.pointee.lastProgress = now
            if !loop.pointee.receiveArmed { ring.armReceive(loops, slot) }
            return
        }
        if result == 0 {
            finish(ring, slot)
            return
        }
        let code = -result
        switch CompletionError(errno: code) {
        case .noBuffers:
            ring.waitForBuffers(slot)
        case .cancelled:
            break
        default:
            if code == ECONNREFUSED || loop.pointee.bytes == 0 && code != ECONNRESET {
                // The connect itself failed: stop this loop rather than spin on a dead server.
                record(.connectFailed) { connectFailure(code, plan.endpoint) }
                abort(slot)
                retire(slot)
            } else {
                let bytes = loop.pointee.bytes
                record(.reset) { "loop \(globalNumber(slot)): recv failed after \(bytes) bytes: \(errnoName(code)) (\(errnoText(code)))" }
                abort(slot)
                startConnection(ring, slot)
            }
        }
    }

    /// The server closed the connection: the reply is complete.
    private func finish(_ ring: WorkerRing, _ slot: Int) {
        let loop = loops + slot
        let measured = loop.pointee.started >= measureStart && now <= measureEnd
        totalCompleted &+= 1
        if loop.pointee.bytes == 0 {
            record(.emptyReply) { "loop \(globalNumber(slot)): the server closed the connection without sending anything" }
        } else {
            if measured {
                recordLatency(&histogram, now &- loop.pointee.started)
                measuredCompleted &+= 1
                measuredBytes &+= loop.pointee.bytes
                lastMeasuredCompletion = now
            }
            if plan.checkIncreasing { checkValue(slot) }
        }
        // The recv has ended (EOF clears IORING_CQE_F_MORE), so nothing else refers to the socket:
        // the close can ride along with the next submission.
        ring.ring.queueClose(descriptor: loop.pointee.descriptor, userData: tag(.close, slot, 0), quiet: true)
        loop.pointee.descriptor = -1
        loop.pointee.isOpen = false
        loop.pointee.generation &+= 1
        startConnection(ring, slot)
    }

    /// Drops the current connection at once (after an error).
    private func abort(_ slot: Int) { closeNow(loops + slot) }

    // MARK: - Counter values

    @inline(__always)
    private func parseNumber(_ slot: Int, _ bytes: UnsafeMutableRawPointer, length: Int) {
        let loop = loops + slot
        guard !loop.pointee.numberEnded else { return }
        let text = bytes.assumingMemoryBound(to: UInt8.self)
        for index in 0..<length {
            let byte = text[index]
            if byte >= 48 && byte <= 57 {
                if loop.pointee.digits < 19 {
                    loop.pointee.value = loop.pointee.value &* 10 &+ UInt64(byte - 48)
                }
                loop.pointee.digits += 1
            } else if loop.pointee.digits > 0 {
                loop.pointee.numberEnded = true
                return
            }
        }
    }

    private func checkValue(_ slot: Int) {
        let loop = loops + slot
        guard loop.pointee.digits > 0 else {
            record(.malformed) { "loop \(globalNumber(slot)): the reply has no decimal number" }
            return
        }
        let value = loop.pointee.value
        if loop.pointee.hasPrevious && value <= loop.pointee.previous {
            let previous = loop.pointee.previous
            record(.notIncreasing) { "loop \(globalNumber(slot)): the counter went from \(previous) to \(value)" }
        }
        loop.pointee.previous = value
        loop.pointee.hasPrevious = true
        values.append(value)
    }

    // MARK: - Tick: stalls

    private func handleTick(_ ring: WorkerRing) {
        ring.tickFired()
        if now &- lastStallCheck >= 250_000_000 {
            lastStallCheck = now
            let limit = plan.stallTimeout.nanoseconds
            for slot in 0..<plan.loops where loops[slot].isOpen && now &- loops[slot].lastProgress > limit {
                let bytes = loops[slot].bytes
                record(.stalled) { "loop \(globalNumber(slot)): the server neither sent nor closed for \(formatDuration(limit)) (\(bytes) bytes so far)" }
                // A server that stalls once will stall again: retire the loop, so that a count
                // run against a hung server ends after one --timeout instead of count of them.
                abort(slot)
                retire(slot)
            }
        }
        if !control.stop.load(ordering: .relaxed) { ring.armTickIfIdle() }
    }

    private func record(_ kind: DataErrorKind, _ describe: () -> String) {
        errorCount &+= 1
        errors.record(kind, describe)
    }

    private func globalNumber(_ slot: Int) -> Int { plan.firstLoop + slot + 1 }

}
