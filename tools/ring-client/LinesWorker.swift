// LinesWorker: one thread of `bench broadcast` or `bench relay`, on its own ring.
//
// Both modes read lines on many connections and look at their `seq=`, `time=` and `from=` fields
// (LineScanner), with multishot recv and provided buffers (Linux 6.0); a buffer is scanned in
// place and recycled in the batch that delivered it.
//
// broadcast: every connection is a subscriber. Per subscriber, `seq` must rise by exactly one
//   from line to line (a jump is lost lines, a step back is a reordered or repeated line), and
//   `time` (the server's send time, wall clock) gives the delivery latency. The lines of one
//   server tick share their `time=` and `seq=`; a fixed table records, per tick, the first and
//   the last arrival on this worker (TickSpread merges the workers' tables after the run).
// relay: every connection is also a sender. Lines `from=ID seq=N time=T` fall due on an open-loop
//   schedule, like `bench echo --rate`, with T the time the line was due (wall clock, ns), so
//   latency includes any wait behind a slow send. Each receiver tracks, per sender, the last seq
//   and the count received; the loss per (receiver, sender) pair is computed after the run.
//   A connection has one send in flight, from its own fixed send buffer; lines due meanwhile are
//   appended behind it, and a full buffer is reported rather than grown.

#if canImport(Glibc)
import Glibc
#endif
import Histogram
import RingdSystem
import URing

enum LinesMode: Sendable { case broadcast, relay }

struct LinesPlan: Sendable {
    var mode: LinesMode
    var endpoint: SocketAddress
    var socketOptions: SocketOptions
    var connections: Int
    var firstConnection: Int
    /// All relay clients over all workers (the width of the per-sender tables).
    var totalConnections: Int
    /// Relay: lines per second this worker sends, over all its clients.
    var rate: Double
    /// Relay: pad each line to at least this many bytes (newline included).
    var lineSize: Int
    /// Broadcast: whether lines lost to a seq jump are errors (else only counted).
    var gapsAreErrors: Bool
    var connectTimeout: Duration
    /// Relay: before sending, wait at most this long for every client to hear from the server.
    var settle: Duration = .zero
}

struct LinesConnection: ReceivingConnection {
    var descriptor: Int32 = -1
    var generation: UInt32 = 0
    var isOpen = false
    var receiveArmed = false
    /// Whether the server has sent anything on this connection yet (relay's welcome).
    var heardFromServer = false
    var scanner = LineScanner()
    /// Lines received inside the measured window.
    var lines: UInt64 = 0
    /// Broadcast: the last seq seen.
    var lastSeq: UInt64 = 0
    var hasSeq = false
    // Relay sending.
    var sendInFlight = false
    /// Bytes in the send buffer; the first `inFlightLength` are being sent.
    var pendingLength = 0
    var inFlightLength = 0
    /// Lines handed to the send buffer (the last seq sent).
    var sentLines: UInt64 = 0
}

final class LinesWorker: BenchWorker, @unchecked Sendable {
    // @unchecked: owned by its thread between start and join; results read after the join.
    let plan: LinesPlan
    let control: RunControl
    let progress = WorkerProgress()

    private(set) var histogram = makeLatencyHistogram()
    private(set) var measuredLines: UInt64 = 0
    private(set) var measuredBytes: UInt64 = 0
    private(set) var linesWithoutFields: UInt64 = 0
    private(set) var futureStamps: UInt64 = 0
    /// Broadcast: lines missing from seq jumps, errors or not.
    private(set) var lostLines: UInt64 = 0
    /// Broadcast: lines whose tick found no room in the tick table.
    private(set) var untrackedTickLines: UInt64 = 0
    private(set) var errors = ErrorLog()
    private(set) var setupFailure: ClientError?

    static let sendBufferSize = 65536
    /// Broadcast: ticks one worker can record (32 bytes each): 10 minutes of two server workers
    /// ticking every 10 ms.
    static let tickCapacity = 131_072
    /// Broadcast: how many of the newest ticks a line's tick is looked for among. Lines of one
    /// tick arrive close together; a tick not found here gets a second record, merged later.
    static let tickSearchDepth = 16

    private let connections: UnsafeMutablePointer<LinesConnection>
    /// Relay: per local receiver, per global sender, the count received and the last seq.
    private let receivedFrom: UnsafeMutablePointer<UInt64>
    private let lastSeqFrom: UnsafeMutablePointer<UInt64>
    private let sendBuffers: UnsafeMutablePointer<UInt8>
    /// Broadcast: the ticks seen, in order of first arrival.
    private let ticks: UnsafeMutablePointer<TickArrivals>
    private var tickCount = 0
    private var openConnections = 0
    private var connectionsHeardFrom = 0
    private var errorCount: UInt64 = 0
    private var totalLines: UInt64 = 0

    private var now: UInt64 = 0
    private var wallNow: UInt64 = 0
    /// wall clock minus monotonic clock, to turn schedule times into `time=` stamps.
    private var wallOffset: UInt64 = 0
    private var measureStart: UInt64 = .max
    private var measureEnd: UInt64 = .max
    private var stopIssuing = false

    private var scheduleStart: UInt64 = 0
    private var interval: Double = 0
    private var nextScheduled: UInt64 = 0
    private var scheduleArmed = false

    init(plan: LinesPlan, control: RunControl) {
        self.plan = plan
        self.control = control
        connections = .allocate(capacity: plan.connections)
        connections.initialize(repeating: LinesConnection(), count: plan.connections)
        let pairs = plan.mode == .relay ? plan.connections * plan.totalConnections : 0
        receivedFrom = .allocate(capacity: max(1, pairs))
        receivedFrom.initialize(repeating: 0, count: max(1, pairs))
        lastSeqFrom = .allocate(capacity: max(1, pairs))
        lastSeqFrom.initialize(repeating: 0, count: max(1, pairs))
        let sendBytes = plan.mode == .relay ? plan.connections * LinesWorker.sendBufferSize : 1
        sendBuffers = .allocate(capacity: sendBytes)
        ticks = .allocate(capacity: plan.mode == .broadcast ? LinesWorker.tickCapacity : 1)
    }

    deinit {
        connections.deallocate()
        receivedFrom.deallocate()
        lastSeqFrom.deallocate()
        sendBuffers.deallocate()
        ticks.deallocate()
    }

    // MARK: - Results

    /// Lines each local subscriber received in the measured window.
    var linesPerConnection: [UInt64] { (0..<plan.connections).map { connections[$0].lines } }

    /// Relay: lines each local client sent, all of them.
    var sentPerConnection: [UInt64] { (0..<plan.connections).map { connections[$0].sentLines } }

    /// Broadcast: the ticks this worker saw whose `time=` stamp lies in the monotonic window
    /// `start...end` (stamps are wall clock; the worker's offset between the clocks converts them).
    func ticks(stampedBetween start: UInt64, and end: UInt64) -> [TickArrivals] {
        (0..<tickCount).compactMap { index in
            let sent = ticks[index].stamp &- wallOffset
            return sent >= start && sent <= end ? ticks[index] : nil
        }
    }

    /// Relay: lines local receiver `receiver` got from global sender `sender`.
    func received(by receiver: Int, from sender: Int) -> UInt64 {
        receivedFrom[receiver * plan.totalConnections + sender]
    }

    // MARK: - Life

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
        // Receive from the start, so a welcome line or a tick sent before the gate opens is read.
        for slot in 0..<plan.connections { ring.armReceive(connections, slot) }
        settle(ring)
        control.ready.add(1, ordering: .releasing)
        guard control.waitForStart() else { return }
        now = monotonicNanoseconds()
        wallNow = wallClockNanoseconds()
        wallOffset = wallNow &- now
        refreshControl()
        if plan.mode == .relay {
            scheduleStart = control.startTime.load(ordering: .relaxed)
            interval = 1e9 / plan.rate
            releaseDueLines(ring)
        }
        loop(ring)
    }

    private func fail(_ error: ClientError) {
        setupFailure = error
        control.failed.add(1, ordering: .releasing)
    }

    /// Relay: a server registers a client some time after the TCP handshake (when it accepts),
    /// and lines sent before every client is registered would miss some of them and count as
    /// lost. So wait until every client has received something (a welcome line), or --settle.
    private func settle(_ ring: WorkerRing) {
        guard plan.mode == .relay else { return }
        let deadline = monotonicNanoseconds() &+ plan.settle.nanoseconds
        ring.armTickIfIdle()
        while connectionsHeardFrom < openConnections && !control.stop.load(ordering: .relaxed) {
            now = monotonicNanoseconds()
            if now >= deadline { return }
            do { try ring.ring.submitAndWait(1) } catch { return }
            wallNow = wallClockNanoseconds()
            ring.ring.drainCompletions { dispatch(ring, $0) }
            ring.publishBuffers(rearming: connections)
        }
    }

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
            wallNow = wallClockNanoseconds()
            ring.ring.drainCompletions { dispatch(ring, $0) }
            ring.publishBuffers(rearming: connections)
            refreshControl()
            if plan.mode == .relay { releaseDueLines(ring) }
            progress.completed.store(totalLines, ordering: .relaxed)
            progress.errors.store(errorCount, ordering: .relaxed)
            if control.stop.load(ordering: .relaxed) || openConnections == 0 { return }
        }
    }

    private func refreshControl() {
        measureStart = control.measureStart.load(ordering: .relaxed)
        measureEnd = control.measureEnd.load(ordering: .relaxed)
        stopIssuing = control.stopIssuing.load(ordering: .relaxed)
    }

    @inline(__always)
    private func dispatch(_ ring: WorkerRing, _ completion: Completion) {
        switch WorkerOperation(rawValue: completion.userData.operation) {
        case .receive: handleReceive(ring, completion)
        case .send: handleSend(ring, completion)
        case .tick:
            ring.tickFired()
            if !control.stop.load(ordering: .relaxed) { ring.armTickIfIdle() }
        case .schedule: scheduleArmed = false
        case .connectPoll, .close, nil: break
        }
    }

    // MARK: - Receiving

    private func handleReceive(_ ring: WorkerRing, _ completion: Completion) {
        // Buffer life: taken, scanned in place, recycled before returning on every path.
        guard let connection = ring.liveReceiver(of: completion, in: connections) else { return }
        let bufferID = completion.bufferID
        let slot = Int(completion.userData.slot)
        let result = completion.result
        if result > 0, let bufferID {
            if !connection.pointee.heardFromServer {
                connection.pointee.heardFromServer = true
                connectionsHeardFrom += 1
            }
            let inWindow = now >= measureStart && now <= measureEnd
            if inWindow { measuredBytes &+= UInt64(result) }
            connection.pointee.scanner.scan(ring.buffers.bytes(of: bufferID), length: Int(result)) { fields in
                line(slot, fields, inWindow: inWindow)
            }
            ring.buffers.recycle(bufferID)
        } else if result == 0 {
            let lines = connection.pointee.lines
            record(.earlyClose) { "the server closed \(role) \(globalNumber(slot)) after \(lines) lines" }
            closeConnection(slot)
            return
        } else {
            let code = -result
            switch CompletionError(errno: code) {
            case .noBuffers:
                ring.waitForBuffers(slot)
                return
            case .cancelled:
                return
            default:
                record(.reset) { "recv on \(role) \(globalNumber(slot)) failed: \(errnoName(code)) (\(errnoText(code)))" }
                closeConnection(slot)
                return
            }
        }
        if !connection.pointee.receiveArmed && connection.pointee.isOpen { ring.armReceive(connections, slot) }
    }

    /// One complete line on `slot`.
    @inline(__always)
    private func line(_ slot: Int, _ fields: LineFields, inWindow: Bool) {
        switch plan.mode {
        case .broadcast: broadcastLine(slot, fields, inWindow: inWindow)
        case .relay: relayLine(slot, fields)
        }
    }

    private func broadcastLine(_ slot: Int, _ fields: LineFields, inWindow: Bool) {
        let connection = connections + slot
        totalLines &+= 1
        guard fields.hasSeq || fields.hasTime else {
            linesWithoutFields &+= 1
            return
        }
        if fields.hasSeq {
            if connection.pointee.hasSeq {
                let last = connection.pointee.lastSeq
                if fields.seq > last &+ 1 {
                    let lost = fields.seq - last - 1
                    lostLines &+= lost
                    if plan.gapsAreErrors {
                        record(.gap, amount: lost) { "subscriber \(globalNumber(slot)): seq jumped from \(last) to \(fields.seq), \(lost) lines lost" }
                    }
                } else if fields.seq <= last {
                    record(.reordered) { "subscriber \(globalNumber(slot)): seq \(fields.seq) arrived after \(last)" }
                }
            }
            connection.pointee.lastSeq = fields.seq
            connection.pointee.hasSeq = true
        }
        // Every tick is tracked, in the window or not: the command keeps those sent in the window,
        // and their late arrivals come during --drain.
        if fields.hasTime { noteTickArrival(stamp: fields.time, seq: fields.hasSeq ? fields.seq : 0) }
        guard inWindow else { return }
        connection.pointee.lines &+= 1
        measuredLines &+= 1
        if fields.hasTime { recordStamp(fields.time) }
    }

    private func relayLine(_ slot: Int, _ fields: LineFields) {
        // Notices (`* client3 joined`) and replies carry no from=; they are not relayed lines.
        guard fields.hasFrom, fields.hasSeq, fields.from >= 1, fields.from <= UInt64(plan.totalConnections) else {
            linesWithoutFields &+= 1
            return
        }
        totalLines &+= 1
        let sender = Int(fields.from) - 1
        let pair = slot * plan.totalConnections + sender
        let last = lastSeqFrom[pair]
        if fields.seq <= last {
            record(.reordered) { "client \(globalNumber(slot)): line \(fields.seq) from client \(sender + 1) arrived after line \(last)" }
        }
        lastSeqFrom[pair] = max(last, fields.seq)
        receivedFrom[pair] &+= 1
        // The line's own due time decides whether it belongs to the measured window.
        guard fields.hasTime else { return }
        let due = fields.time &- wallOffset
        if due >= measureStart && due <= measureEnd {
            connections[slot].lines &+= 1
            measuredLines &+= 1
            recordStamp(fields.time)
        }
    }

    /// One subscriber received the tick `(stamp, seq)` in the batch reaped at `now`.
    @inline(__always)
    private func noteTickArrival(stamp: UInt64, seq: UInt64) {
        var index = tickCount
        let oldest = max(0, tickCount - LinesWorker.tickSearchDepth)
        while index > oldest {
            index -= 1
            if ticks[index].stamp == stamp && ticks[index].seq == seq {
                ticks[index].first = min(ticks[index].first, now)
                ticks[index].last = max(ticks[index].last, now)
                ticks[index].deliveries &+= 1
                return
            }
        }
        guard tickCount < LinesWorker.tickCapacity else {
            untrackedTickLines &+= 1
            return
        }
        (ticks + tickCount).initialize(to: TickArrivals(stamp: stamp, seq: seq, first: now, last: now, deliveries: 1))
        tickCount += 1
    }

    @inline(__always)
    private func recordStamp(_ stamp: UInt64) {
        if stamp > wallNow {
            futureStamps &+= 1
            recordLatency(&histogram, 0)
        } else {
            recordLatency(&histogram, wallNow &- stamp)
        }
    }


    // MARK: - Relay sending

    private func releaseDueLines(_ ring: WorkerRing) {
        guard !stopIssuing else { return }
        let count = UInt64(plan.connections)
        while true {
            let due = dueTime(of: nextScheduled)
            if due > now { break }
            let slot = Int(nextScheduled % count)
            nextScheduled &+= 1
            append(ring, slot, due: due)
        }
        if !scheduleArmed {
            scheduleArmed = true
            ring.armSchedule(after: dueTime(of: nextScheduled) &- now)
        }
    }

    @inline(__always)
    private func dueTime(of line: UInt64) -> UInt64 {
        scheduledTime(start: scheduleStart, interval: interval, index: line)
    }

    /// Writes `from=ID seq=N time=T [pad=xxx]\n` behind what `slot` has pending, and sends.
    private func append(_ ring: WorkerRing, _ slot: Int, due: UInt64) {
        let connection = connections + slot
        guard connection.pointee.isOpen else { return }
        let capacity = LinesWorker.sendBufferSize
        let needed = max(plan.lineSize, 80)
        guard connection.pointee.pendingLength + needed <= capacity else {
            record(.sendBacklog) { "client \(globalNumber(slot)): \(capacity) bytes still unsent; the server is not reading" }
            return
        }
        let seq = connection.pointee.sentLines &+ 1
        var writer = DigitWriter(start: sendBuffers + slot * capacity + connection.pointee.pendingLength)
        writer.write("from=")
        writer.write(decimal: UInt64(plan.firstConnection + slot + 1))
        writer.write(" seq=")
        writer.write(decimal: seq)
        writer.write(" time=")
        writer.write(decimal: due &+ wallOffset)
        if writer.count + 1 < plan.lineSize {
            writer.write(" pad=")
            while writer.count + 1 < plan.lineSize { writer.write(byte: UInt8(ascii: "x")) }
        }
        writer.write(byte: UInt8(ascii: "\n"))
        connection.pointee.pendingLength += writer.count
        connection.pointee.sentLines = seq
        if !connection.pointee.sendInFlight { sendPending(ring, slot) }
    }

    private func sendPending(_ ring: WorkerRing, _ slot: Int) {
        let connection = connections + slot
        guard connection.pointee.pendingLength > 0 else { return }
        connection.pointee.sendInFlight = true
        connection.pointee.inFlightLength = connection.pointee.pendingLength
        ring.ring.queueSend(socket: connection.pointee.descriptor, bytes: sendBuffers + slot * LinesWorker.sendBufferSize,
                            length: connection.pointee.inFlightLength, userData: tag(.send, slot, connection.pointee.generation))
    }

    private func handleSend(_ ring: WorkerRing, _ completion: Completion) {
        let slot = Int(completion.userData.slot)
        let connection = connections + slot
        guard connection.pointee.isOpen, connection.pointee.generation == completion.userData.generation else { return }
        connection.pointee.sendInFlight = false
        guard completion.result > 0 else {
            let code = -completion.result
            record(.reset) { "send on client \(globalNumber(slot)) failed: \(errnoName(code)) (\(errnoText(code)))" }
            closeConnection(slot)
            return
        }
        // Drop what was sent; lines appended meanwhile move to the front.
        let sent = Int(completion.result)
        let remaining = connection.pointee.pendingLength - sent
        if remaining > 0 {
            let buffer = sendBuffers + slot * LinesWorker.sendBufferSize
            buffer.update(from: buffer + sent, count: remaining)
        }
        connection.pointee.pendingLength = remaining
        sendPending(ring, slot)
    }

    // MARK: - Errors and closing

    private var role: String { plan.mode == .broadcast ? "subscriber" : "client" }

    private func record(_ kind: DataErrorKind, amount: UInt64 = 1, _ describe: () -> String) {
        errorCount &+= amount
        errors.record(kind, amount: amount, describe)
    }

    private func closeConnection(_ slot: Int) {
        if closeNow(connections + slot) { openConnections -= 1 }
    }

    private func globalNumber(_ slot: Int) -> Int { plan.firstConnection + slot + 1 }

}

/// Writes ASCII into raw memory the caller has sized, without allocating.
struct DigitWriter {
    let start: UnsafeMutablePointer<UInt8>
    private(set) var count = 0

    init(start: UnsafeMutablePointer<UInt8>) { self.start = start }

    @inline(__always)
    mutating func write(byte: UInt8) {
        start[count] = byte
        count += 1
    }

    mutating func write(_ text: StaticString) {
        text.withUTF8Buffer { for byte in $0 { write(byte: byte) } }
    }

    mutating func write(decimal value: UInt64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 24 bytes of scratch, enough for 20 digits
        var remaining = value
        var length = 0
        withUnsafeMutableBytes(of: &digits) { scratch in
            repeat {
                scratch[length] = UInt8(48 + remaining % 10)
                remaining /= 10
                length += 1
            } while remaining > 0
            for index in stride(from: length - 1, through: 0, by: -1) { write(byte: scratch[index]) }
        }
    }
}
