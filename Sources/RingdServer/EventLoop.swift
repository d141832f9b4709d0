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
}

/// Counters a worker keeps; read after it stops.
struct EventLoopStatistics {
    var accepted = 0
    var closed = 0
    var refusedTableFull = 0
    var bufferStarvations = 0
    var acceptFailures = 0
}

final class EventLoop {
    let index: Int
    private let ring: Ring
    private let buffers: ProvidedBufferRing
    private let table: ConnectionTable
    private let listeners: [ListeningSocket]
    private let shutdownSignal: Int32
    private let bufferGroup: UInt16 = 0

    /// Per-buffer links and lengths for the send queues (see Connection.queueHead).
    private let nextInQueue: UnsafeMutablePointer<UInt16>
    private let bufferLength: UnsafeMutablePointer<UInt32>
    /// Slots whose recv stopped with ENOBUFS, re-armed when buffers are recycled.
    private let waitingForBuffers: UnsafeMutablePointer<UInt32>
    private var waitingCount = 0
    /// Timeouts that re-arm an accept after EMFILE/ENFILE, one per listener.
    private let retryTimeouts: TimeoutStorage
    /// Bytes queued on one connection before its recv is paused; resumed below half of it.
    private let outputLimit: UInt32

    private var stopping = false
    private(set) var statistics = EventLoopStatistics()

    /// Builds the worker's ring and buffers. Must run on the worker's own thread: with
    /// SINGLE_ISSUER the creating thread is the only one allowed to submit.
    init(index: Int, configuration: Configuration, listeners: [ListeningSocket], shutdownSignal: Int32) throws(SystemError) {
        self.index = index
        self.listeners = listeners
        self.shutdownSignal = shutdownSignal
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
        table = try ConnectionTable(capacity: configuration.server.maxConnections)
        nextInQueue = .allocate(capacity: io.bufferCount)
        nextInQueue.initialize(repeating: noBuffer, count: io.bufferCount)
        bufferLength = .allocate(capacity: io.bufferCount)
        bufferLength.initialize(repeating: 0, count: io.bufferCount)
        waitingForBuffers = .allocate(capacity: configuration.server.maxConnections)
        retryTimeouts = TimeoutStorage(count: max(1, listeners.count))
        outputLimit = UInt32(clamping: io.outputLimit)
    }

    deinit {
        nextInQueue.deallocate()
        bufferLength.deallocate()
        waitingForBuffers.deallocate()
        retryTimeouts.deallocate()
    }

    var taskRunMode: TaskRunMode { ring.taskRunMode }

    // MARK: - The loop

    /// Runs until the shutdown signal fires, then closes everything this worker owns.
    func run() throws(SystemError) {
        for listener in listeners.indices { armAccept(listener) }
        ring.queuePoll(descriptor: shutdownSignal, events: UInt32(POLLIN), userData: tag(.shutdownSignal))
        defer { tearDown() }
        while !stopping {
            try ring.submitAndWait(1)
            let ready = ring.readyCompletions
            var position: UInt32 = 0
            while position < ready {
                dispatch(ring.completion(at: position))
                position += 1
            }
            ring.advance(by: ready)
            if buffers.publish() && waitingCount > 0 { rearmWaitingForBuffers() }
        }
    }

    @inline(__always)
    private func dispatch(_ completion: Completion) {
        switch Operation(rawValue: completion.userData.operation) {
        case .receive: handleReceive(completion)
        case .send: handleSend(completion)
        case .accept: handleAccept(completion)
        case .acceptRetry: armAccept(Int(completion.userData.slot))
        case .shutdownSignal: stopping = true
        case .close, .cancel, nil: break
        }
    }

    // MARK: - Accept

    private func armAccept(_ listener: Int) {
        guard !stopping else { return }
        ring.queueMultishotAccept(listener: listeners[listener].descriptor, userData: tag(.accept, slot: UInt32(listener)))
    }

    private func handleAccept(_ completion: Completion) {
        let listener = Int(completion.userData.slot)
        if completion.result >= 0 {
            openConnection(descriptor: completion.result)
        } else if CompletionError(errno: -completion.result) == .resourceExhausted {
            // Out of descriptors: accepting again at once would fail at once. Wait, then retry;
            // the pending connections stay in the listen backlog meanwhile.
            statistics.acceptFailures += 1
            if !completion.hasMore {
                ring.queueTimeout(after: .milliseconds(100), storage: retryTimeouts, index: listener,
                                  userData: tag(.acceptRetry, slot: UInt32(listener)))
            }
            return
        } else {
            statistics.acceptFailures += 1
        }
        if !completion.hasMore { armAccept(listener) }
    }

    private func openConnection(descriptor: Int32) {
        guard !stopping, let slot = table.open(descriptor: descriptor) else {
            if !stopping { statistics.refusedTableFull += 1 }
            _ = close(descriptor)
            return
        }
        statistics.accepted += 1
        // TCP_NODELAY comes from the listener: accepted sockets inherit it, no syscall here.
        armReceive(slot, table[slot])
    }

    // MARK: - Receive

    @inline(__always)
    private func armReceive(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
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
            if connection.pointee.state == .open {
                enqueue(bufferID, length: UInt32(completion.result), on: slot, connection)
            } else {
                buffers.recycle(bufferID)
            }
        } else if completion.result == 0 {
            connection.pointee.peerFinished = true
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

        if connection.pointee.state == .closing {
            finishCloseIfIdle(slot, connection)
        } else if !connection.pointee.receiveArmed {
            if connection.pointee.peerFinished {
                if !connection.pointee.sendInFlight { beginClose(slot, connection) }
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
        if !connection.pointee.sendInFlight { sendHead(slot, connection) }
        if connection.pointee.queuedBytes > outputLimit && connection.pointee.receiveArmed && !connection.pointee.receivePaused {
            // Back-pressure: the client sends faster than it reads. Stop reading until the
            // queue drains; TCP flow control then slows the client down.
            connection.pointee.receivePaused = true
            ring.queueCancel(target: tag(.receive, slot: slot, generation: connection.pointee.generation),
                             userData: tag(.cancel))
        }
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
        let head = connection.pointee.queueHead
        if connection.pointee.sentFromHead == bufferLength[Int(head)] {
            connection.pointee.queueHead = nextInQueue[Int(head)]
            if connection.pointee.queueHead == noBuffer { connection.pointee.queueTail = noBuffer }
            connection.pointee.sentFromHead = 0
            buffers.recycle(head)
        }
        if connection.pointee.queueHead != noBuffer {
            sendHead(slot, connection)   // a short send resumes where it stopped
        } else if connection.pointee.peerFinished && !connection.pointee.receiveArmed {
            beginClose(slot, connection)  // half-close: everything owed is sent
            return
        }
        if connection.pointee.receivePaused && connection.pointee.queuedBytes <= outputLimit / 2 {
            connection.pointee.receivePaused = false
            if !connection.pointee.receiveArmed && !connection.pointee.peerFinished && !connection.pointee.waitingForBuffers {
                armReceive(slot, connection)
            }
        }
    }

    // MARK: - Close

    /// Starts closing: cancels what is in flight; the slot is released after the last completion.
    private func beginClose(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard connection.pointee.state == .open else { return }
        connection.pointee.state = .closing
        if connection.pointee.receiveArmed || connection.pointee.sendInFlight {
            ring.queueCancelAll(descriptor: connection.pointee.descriptor, userData: tag(.cancel))
        } else {
            finishCloseIfIdle(slot, connection)
        }
    }

    private func finishCloseIfIdle(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard !connection.pointee.receiveArmed && !connection.pointee.sendInFlight else { return }
        var buffer = connection.pointee.queueHead
        while buffer != noBuffer {
            let next = nextInQueue[Int(buffer)]
            buffers.recycle(buffer)
            buffer = next
        }
        ring.queueClose(descriptor: connection.pointee.descriptor, userData: tag(.close), quiet: true)
        table.release(slot)
        statistics.closed += 1
    }

    // MARK: - Shutdown

    /// Releases what `init` built when start-up failed elsewhere and `run` never ran.
    func tearDownWithoutRunning() { tearDown() }

    private func tearDown() {
        table.forEachOpen { _, connection in _ = close(connection.pointee.descriptor) }
        listeners.forEach { $0.close() }
        // Closing the ring cancels every request still in flight; only then may the buffer
        // memory those requests point into be unmapped.
        ring.close()
        buffers.close()
        table.releaseAllAfterShutdown()
    }

    // MARK: - User data

    @inline(__always)
    private func tag(_ operation: Operation, slot: UInt32 = 0, generation: UInt32 = 0) -> UserData {
        UserData(operation: operation.rawValue, slot: slot, generation: generation)
    }
}
