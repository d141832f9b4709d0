// EchoWorker: one thread of `bench echo`, with its own ring and its share of the connections.
//
// Closed loop (the default): every connection keeps `depth` messages in flight and sends the
// next one when a message has fully come back. Open loop (--rate): requests fall due on a fixed
// schedule, independent of the server's speed; a connection sends a due request as soon as it
// has fewer than `depth` in flight, and a request's latency runs from the time it was due, not
// from when it was sent, so a stalled server cannot hide its stall (coordinated omission).
//
// Every received byte is compared with the StreamPattern byte sent at that stream position.
// Receives are multishot with provided buffers (Linux 6.0); a buffer is checked and recycled in
// the batch that delivered it. A connection has at most one send in flight, which keeps its
// byte order; the send goes straight from the shared pattern, so nothing is copied or allocated
// per message. Connections that see an error are closed and counted; the run goes on with the
// rest and ends when none are left.

#if canImport(Glibc)
import Glibc
#endif
import Histogram
import RingdSystem
import URing

/// What one echo worker is asked to do.
struct EchoPlan: Sendable {
    var endpoint: SocketAddress
    var socketOptions: SocketOptions
    var connections: Int
    /// The global number of this worker's first connection, for messages and source spreading.
    var firstConnection: Int
    var messageSize: Int
    var depth: Int
    /// Measured messages this worker completes before it stops (count runs); nil for duration runs.
    var quota: UInt64?
    /// Requests per second this worker issues in open-loop runs; nil for closed loop.
    var rate: Double?
    var stallTimeout: Duration
    var connectTimeout: Duration
}

/// One connection's state, in a fixed array indexed by slot.
struct EchoConnection: ReceivingConnection {
    var descriptor: Int32 = -1
    /// Bumped when the connection closes, so late completions for it are recognised and dropped.
    var generation: UInt32 = 0
    var isOpen = false
    var sendInFlight = false
    var receiveArmed = false
    /// Messages handed to the send path; `issuedMessages * size` bytes are owed to the kernel.
    var issuedMessages: UInt64 = 0
    /// Messages whose last byte has come back.
    var completedMessages: UInt64 = 0
    /// Bytes the kernel has accepted from us.
    var sentBytes: UInt64 = 0
    /// Bytes that came back and matched the pattern.
    var receivedBytes: UInt64 = 0
    /// Last time bytes moved either way, for stall detection.
    var lastProgress: UInt64 = 0
}

final class EchoWorker: BenchWorker, @unchecked Sendable {
    // @unchecked: the main thread builds the worker, its thread owns it from start to join,
    // and the main thread reads the results only after the join.
    let plan: EchoPlan
    let control: RunControl
    let progress = WorkerProgress()
    private let pattern: StreamPattern

    // Results, read after the thread is joined.
    private(set) var histogram = makeLatencyHistogram()
    private(set) var measuredCompleted: UInt64 = 0
    private(set) var lastMeasuredCompletion: UInt64 = 0
    private(set) var errors = ErrorLog()
    private(set) var setupFailure: ClientError?

    private let size: UInt64
    private let depth: UInt64
    private let connections: UnsafeMutablePointer<EchoConnection>
    /// `depth` stamps per connection: when each message in flight was due (open loop) or sent.
    private let stamps: UnsafeMutablePointer<UInt64>
    private var openConnections = 0
    private var errorCount: UInt64 = 0

    // Copies of the main thread's flags, refreshed once per batch.
    private var now: UInt64 = 0
    private var measureStart: UInt64 = .max
    private var measureEnd: UInt64 = .max
    private var stopIssuing = false
    private var measuredIssued: UInt64 = 0
    /// The newest stamp given to a request issued as warm-up; see refreshControl().
    private var newestWarmupStamp: UInt64 = 0
    private var totalCompleted: UInt64 = 0

    // Open-loop schedule: request K of this worker is due at scheduleStart + K * interval and
    // goes to connection K % connections.
    private var scheduleStart: UInt64 = 0
    private var interval: Double = 0
    private var nextScheduled: UInt64 = 0
    private var scheduleArmed = false
    private var lastStallCheck: UInt64 = 0

    init(plan: EchoPlan, control: RunControl, pattern: StreamPattern) {
        self.plan = plan
        self.control = control
        self.pattern = pattern
        size = UInt64(plan.messageSize)
        depth = UInt64(plan.depth)
        connections = .allocate(capacity: plan.connections)
        connections.initialize(repeating: EchoConnection(), count: plan.connections)
        stamps = .allocate(capacity: plan.connections * plan.depth)
        stamps.initialize(repeating: 0, count: plan.connections * plan.depth)
    }

    deinit {
        connections.deallocate()
        stamps.deallocate()
    }

    // MARK: - Life

    /// The thread's body: set up, wait for the start, run, tear down.
    func run() {
        defer { control.finished.add(1, ordering: .releasing) }
        let ring: WorkerRing
        do {
            ring = try WorkerRing(connections: plan.connections, bufferSize: receiveBufferSize(forConnections: plan.connections))
        } catch {
            fail(error)
            return
        }
        defer { ring.tearDown(closing: connections, count: plan.connections) }
        do {
            try ring.connectAll(into: connections, count: plan.connections, to: plan.endpoint, options: plan.socketOptions,
                                firstSourceIndex: plan.firstConnection, timeout: plan.connectTimeout, control: control)
            openConnections = plan.connections
        } catch {
            fail(error)
            return
        }
        control.ready.add(1, ordering: .releasing)
        guard control.waitForStart() else { return }
        start(ring)
        loop(ring)
    }

    private func fail(_ error: ClientError) {
        setupFailure = error
        control.failed.add(1, ordering: .releasing)
    }

    private func start(_ ring: WorkerRing) {
        now = monotonicNanoseconds()
        refreshControl()
        lastStallCheck = now
        for slot in 0..<plan.connections {
            connections[slot].lastProgress = now
            ring.armReceive(connections, slot)
        }
        if let rate = plan.rate {
            scheduleStart = control.startTime.load(ordering: .relaxed)
            interval = 1e9 / rate
            releaseDueRequests(ring)
        } else {
            for slot in 0..<plan.connections {
                var issued = false
                for _ in 0..<depth where canIssue(stamp: now) {
                    issue(slot, stamp: now)
                    issued = true
                }
                if issued { sendPending(ring, slot) }
            }
        }
    }

    /// Drain completions, run handlers, then submit what they queued: one io_uring_enter per
    /// batch, never recursing (TigerBeetle's run_for_ns shape).
    private func loop(_ ring: WorkerRing) {
        ring.armTickIfIdle()
        while true {
            do {
                try ring.ring.submitAndWait(1)
            } catch {
                record(.reset) { "io_uring_enter failed: \(error)" }
                return
            }
            now = monotonicNanoseconds()
            ring.ring.drainCompletions { dispatch(ring, $0) }
            ring.publishBuffers(rearming: connections)
            refreshControl()
            if plan.rate != nil { releaseDueRequests(ring) }
            progress.completed.store(totalCompleted, ordering: .relaxed)
            progress.errors.store(errorCount, ordering: .relaxed)
            if control.stop.load(ordering: .relaxed) || openConnections == 0 { return }
            if let quota = plan.quota, measureStart != .max, measuredCompleted >= quota { return }
        }
    }

    private func refreshControl() {
        if measureStart == .max {
            // Requests issued while this worker still saw no window (in the batch that straddles
            // the main thread's opening of it, their stamps can be later than its start) were
            // issued as warm-up, outside the --count quota; they must complete as warm-up too,
            // or a count run overshoots. So this worker's window opens after the newest of them.
            let start = control.measureStart.load(ordering: .relaxed)
            if start != .max { measureStart = max(start, newestWarmupStamp &+ 1) }
        }
        measureEnd = control.measureEnd.load(ordering: .relaxed)
        stopIssuing = control.stopIssuing.load(ordering: .relaxed)
    }

    @inline(__always)
    private func dispatch(_ ring: WorkerRing, _ completion: Completion) {
        switch WorkerOperation(rawValue: completion.userData.operation) {
        case .receive: handleReceive(ring, completion)
        case .send: handleSend(ring, completion)
        case .tick: handleTick(ring)
        case .schedule: scheduleArmed = false
        case .connectPoll, .close, nil: break
        }
    }

    // MARK: - Issuing requests

    @inline(__always)
    private func canIssue(stamp: UInt64) -> Bool {
        if stopIssuing { return false }
        if let quota = plan.quota, stamp >= measureStart { return measuredIssued < quota }
        return true
    }

    /// Queues one message on `slot`, stamped `stamp`. The bytes go out with the next send.
    @inline(__always)
    private func issue(_ slot: Int, stamp: UInt64) {
        let connection = connections + slot
        let index = connection.pointee.issuedMessages
        stamps[slot &* plan.depth &+ Int(index % depth)] = stamp
        connection.pointee.issuedMessages = index &+ 1
        if stamp >= measureStart {
            measuredIssued &+= 1
        } else if stamp > newestWarmupStamp {
            newestWarmupStamp = stamp
        }
    }

    /// Sends what `slot` owes the kernel, from the pattern at the stream position reached.
    @inline(__always)
    private func sendPending(_ ring: WorkerRing, _ slot: Int) {
        let connection = connections + slot
        let owed = connection.pointee.issuedMessages &* size &- connection.pointee.sentBytes
        guard owed > 0, !connection.pointee.sendInFlight else { return }
        let length = min(owed, UInt64(StreamPattern.maximumChunk))
        connection.pointee.sendInFlight = true
        ring.ring.queueSend(socket: connection.pointee.descriptor, bytes: pattern.start(at: connection.pointee.sentBytes),
                            length: Int(length), userData: tag(.send, slot, connection.pointee.generation))
    }

    /// Open loop: marks every request due by `now` and sends those the connections can take.
    private func releaseDueRequests(_ ring: WorkerRing) {
        guard !stopIssuing else { return }
        let count = UInt64(plan.connections)
        while true {
            let due = dueTime(of: nextScheduled)
            if due > now { break }
            let slot = Int(nextScheduled % count)
            nextScheduled &+= 1
            issueBacklog(ring, slot)
            if let quota = plan.quota, measureStart != .max, measuredIssued >= quota { return }
        }
        if !scheduleArmed {
            scheduleArmed = true
            ring.armSchedule(after: dueTime(of: nextScheduled) &- now)
        }
    }

    @inline(__always)
    private func dueTime(of request: UInt64) -> UInt64 {
        scheduledTime(start: scheduleStart, interval: interval, index: request)
    }

    /// Open loop: sends `slot`'s oldest due requests while it has room below `depth`. A request
    /// keeps the time it was due, however late it leaves.
    private func issueBacklog(_ ring: WorkerRing, _ slot: Int) {
        let connection = connections + slot
        guard connection.pointee.isOpen else { return }
        let count = UInt64(plan.connections)
        let position = UInt64(slot)
        let dueForSlot = nextScheduled > position ? (nextScheduled &- position &- 1) / count &+ 1 : 0
        var issued = false
        while connection.pointee.issuedMessages &- connection.pointee.completedMessages < depth,
              connection.pointee.issuedMessages < dueForSlot {
            let stamp = dueTime(of: position &+ connection.pointee.issuedMessages &* count)
            guard canIssue(stamp: stamp) else { break }
            issue(slot, stamp: stamp)
            issued = true
        }
        if issued { sendPending(ring, slot) }
    }

    // MARK: - Completions

    private func handleSend(_ ring: WorkerRing, _ completion: Completion) {
        let slot = Int(completion.userData.slot)
        let connection = connections + slot
        guard connection.pointee.isOpen, connection.pointee.generation == completion.userData.generation else { return }
        connection.pointee.sendInFlight = false
        guard completion.result > 0 else {
            let code = -completion.result
            record(.reset) { "send on connection \(globalNumber(slot)) failed: \(errnoName(code)) (\(errnoText(code)))" }
            closeConnection(slot)
            return
        }
        connection.pointee.sentBytes &+= UInt64(completion.result)
        connection.pointee.lastProgress = now
        sendPending(ring, slot)
    }

    private func handleReceive(_ ring: WorkerRing, _ completion: Completion) {
        // A buffer's life here: (1) the kernel picked it for this completion; (2) it is taken,
        // (3) compared with the pattern, (4) recycled at once on every path, published at the
        // end of the batch.
        guard let connection = ring.liveReceiver(of: completion, in: connections) else { return }
        let bufferID = completion.bufferID
        let slot = Int(completion.userData.slot)
        let result = completion.result
        if result > 0, let bufferID {
            let intact = consume(ring, slot, ring.buffers.bytes(of: bufferID), length: Int(result))
            ring.buffers.recycle(bufferID)
            guard intact else { return }
        } else if result == 0 {
            let owed = connection.pointee.issuedMessages &* size &- connection.pointee.receivedBytes
            let received = connection.pointee.receivedBytes
            record(.earlyClose) {
                owed > 0
                    ? "the server closed connection \(globalNumber(slot)) early: \(received) bytes echoed, \(owed) more were owed"
                    : "the server closed connection \(globalNumber(slot)) early, after echoing all \(received) bytes sent"
            }
            closeConnection(slot)
            return
        } else {
            let code = -result
            switch CompletionError(errno: code) {
            case .noBuffers:
                // The group ran dry; the data waits in the socket. Re-armed after the publish.
                ring.waitForBuffers(slot)
                return
            case .cancelled:
                return
            default:
                record(.reset) { "recv on connection \(globalNumber(slot)) failed: \(errnoName(code)) (\(errnoText(code)))" }
                closeConnection(slot)
                return
            }
        }
        if !connection.pointee.receiveArmed && connection.pointee.isOpen { ring.armReceive(connections, slot) }
    }

    /// Checks `length` received bytes, completes the messages they finish, and sends the next
    /// ones. Returns false when the bytes were wrong and the connection is closed.
    @inline(__always)
    private func consume(_ ring: WorkerRing, _ slot: Int, _ bytes: UnsafeMutableRawPointer, length: Int) -> Bool {
        let connection = connections + slot
        let received = connection.pointee.receivedBytes
        let issuedBytes = connection.pointee.issuedMessages &* size
        if received &+ UInt64(length) > issuedBytes {
            let sent = connection.pointee.sentBytes
            record(.extraBytes) {
                "connection \(globalNumber(slot)) received \(received + UInt64(length)) bytes, but only \(issuedBytes) were sent (\(sent) accepted by the kernel)"
            }
            closeConnection(slot)
            return false
        }
        if let index = pattern.firstMismatch(in: bytes, length: length, at: received) {
            let position = received &+ UInt64(index)
            let actual = bytes.load(fromByteOffset: index, as: UInt8.self)
            let expected = pattern.start(at: position).pointee
            let messageSize = size
            record(.mismatch) {
                "mismatch on connection \(globalNumber(slot)): byte \(position) of the echoed stream (message \(position / messageSize + 1), offset \(position % messageSize)) is \(describeByte(actual)), expected \(describeByte(expected))"
            }
            closeConnection(slot)
            return false
        }
        let total = received &+ UInt64(length)
        connection.pointee.receivedBytes = total
        connection.pointee.lastProgress = now
        let finished = total / size
        let openLoop = plan.rate != nil
        var issued = false
        while connection.pointee.completedMessages < finished {
            complete(slot)
            if !openLoop && canIssue(stamp: now) {
                issue(slot, stamp: now)
                issued = true
            }
        }
        if openLoop {
            issueBacklog(ring, slot)
        } else if issued {
            sendPending(ring, slot)
        }
        return true
    }

    /// The last byte of `slot`'s oldest message in flight has arrived.
    @inline(__always)
    private func complete(_ slot: Int) {
        let connection = connections + slot
        let index = connection.pointee.completedMessages
        let stamp = stamps[slot &* plan.depth &+ Int(index % depth)]
        connection.pointee.completedMessages = index &+ 1
        totalCompleted &+= 1
        if stamp >= measureStart && now <= measureEnd {
            recordLatency(&histogram, now &- stamp)
            measuredCompleted &+= 1
            lastMeasuredCompletion = now
        }
    }


    // MARK: - Tick: stalls

    private func handleTick(_ ring: WorkerRing) {
        ring.tickFired()
        if now &- lastStallCheck >= 250_000_000 {
            lastStallCheck = now
            checkForStalls()
        }
        if !control.stop.load(ordering: .relaxed) { ring.armTickIfIdle() }
    }

    /// A connection that owes bytes and has moved none for --timeout is reported and closed, so
    /// a server that swallows a byte ends the run instead of hanging it.
    private func checkForStalls() {
        let limit = plan.stallTimeout.nanoseconds
        for slot in 0..<plan.connections where connections[slot].isOpen {
            let connection = connections[slot]
            let owed = connection.issuedMessages &* size &- connection.receivedBytes
            guard owed > 0, now &- connection.lastProgress > limit else { continue }
            let received = connection.receivedBytes
            let sent = connection.sentBytes
            record(.stalled) {
                "connection \(globalNumber(slot)) stalled: \(owed) bytes owed (\(received) of \(sent) sent bytes echoed), nothing moved for \(formatDuration(limit))"
            }
            closeConnection(slot)
        }
    }

    // MARK: - Errors and closing

    private func record(_ kind: DataErrorKind, _ describe: () -> String) {
        errorCount &+= 1
        errors.record(kind, describe)
    }

    private func closeConnection(_ slot: Int) {
        if closeNow(connections + slot) { openConnections -= 1 }
    }

    private func globalNumber(_ slot: Int) -> Int { plan.firstConnection + slot + 1 }

}

/// Receive buffers: large when there are few connections (fewer completions for big messages),
/// small when there are many (memory grows with buffers, not with connections).
func receiveBufferSize(forConnections connections: Int) -> Int {
    connections <= 256 ? 32768 : (connections <= 2048 ? 16384 : 4096)
}
