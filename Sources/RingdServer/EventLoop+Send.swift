// Sending, from either kind of queue (see SendQueues.swift), and the send completion. The
// connection's SendQueue does the bookkeeping; this file issues the sends, recycles the receive
// buffers and releases the chunk references the queue hands back.

import RingdServices
import URing

#if canImport(Glibc)
    import Glibc
#endif

extension EventLoop {
    // MARK: - Raw echo

    @inline(__always)
    func enqueue(_ bufferID: UInt16, length: UInt32, on slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        connection.pointee.queue.append(buffer: bufferID, length: length, links: rawQueues)
        if !connection.pointee.sendInFlight { sendHead(slot, connection) }
        pauseReceiveIfOverLimit(slot, connection)
    }

    @inline(__always)
    private func sendHead(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        let head = connection.pointee.queue.headBuffer(links: rawQueues)
        connection.pointee.sendInFlight = true
        ring.queueSend(
            socket: connection.pointee.descriptor, bytes: buffers.bytes(of: head.buffer) + head.offset, length: head.length,
            userData: tag(.send, slot: slot, generation: connection.pointee.generation))
    }

    /// Gives back every receive buffer still queued, when the connection is gone.
    func recycleQueuedBuffers(_ connection: UnsafeMutablePointer<Connection>) {
        connection.pointee.queue.removeAllBuffers(links: rawQueues) { buffers.recycle($0) }
    }

    // MARK: - Rendered output

    /// Queues `span` for the connection and starts sending if it is idle. Returns nil when
    /// queued; otherwise queues nothing and returns why: the connection's queued bytes would
    /// pass `cap`, or no segment is free.
    @inline(__always)
    @discardableResult
    func queueOutput(
        _ span: OutputSpan, on slot: UInt32, _ connection: UnsafeMutablePointer<Connection>, cap: UInt32
    )
        -> CutReason?
    {
        guard span.length > 0 else { return nil }
        switch connection.pointee.queue.append(span, cap: cap, segments: segments) {
        case .overCap:
            return .outputCap
        case .noSegment:
            statistics.outputExhausted += 1
            return .outputMemoryFull
        case .newSegment:
            retainChunk(span.chunk)
        case .extendedTail:
            break
        }
        if !connection.pointee.sendInFlight { sendOutputHead(slot, connection) }
        return nil
    }

    @inline(__always)
    private func sendOutputHead(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        let head = connection.pointee.queue.headSpan(segments: segments)
        connection.pointee.sendInFlight = true
        ring.queueSend(
            socket: connection.pointee.descriptor, bytes: group.bytes(of: head), length: Int(head.length),
            userData: tag(.send, slot: slot, generation: connection.pointee.generation))
    }

    /// Drops everything still queued, when the connection is gone.
    func dropOutput(_ connection: UnsafeMutablePointer<Connection>) {
        connection.pointee.queue.removeAllSegments(segments: segments) { releaseChunk($0) }
    }

    @inline(__always)
    func hasQueuedOutput(_ connection: UnsafeMutablePointer<Connection>) -> Bool {
        !connection.pointee.queue.isEmpty
    }

    // MARK: - Completion

    /// A send completed, from either queue; only retiring the head differs between the two.
    func handleSend(_ completion: Completion) {
        guard let connection = table.live(completion.userData) else { return }
        let slot = completion.userData.slot
        connection.pointee.sendInFlight = false
        if connection.pointee.lifecycle == .closing {
            finishCloseIfIdle(slot, connection)
            return
        }
        guard completion.result > 0 else {
            // EPIPE and ECONNRESET are a peer that left: a normal close.
            beginClose(slot, connection)
            return
        }
        let sent = UInt32(completion.result)
        statistics.bytesSent += Int(sent)
        if S.input == .echoed {
            if let done = connection.pointee.queue.sentFromBuffer(sent, links: rawQueues) { buffers.recycle(done) }
        } else if let chunk = connection.pointee.queue.sentFromSegment(sent, segments: segments) {
            releaseChunk(chunk)
        }
        if hasQueuedOutput(connection) {
            // A short send resumes where it stopped.
            if S.input == .echoed { sendHead(slot, connection) } else { sendOutputHead(slot, connection) }
        } else if connection.pointee.lifecycle == .closingAfterOutput {
            closeGracefully(slot, connection)
            return
        } else if connection.pointee.peerFinished && !connection.pointee.receiveArmed {
            beginClose(slot, connection)  // half-close: everything owed is sent
            return
        } else if S.wantsOutputDrained {
            outputDrained(slot, connection)
        }
        resumeReceiveIfDrained(slot, connection)
    }
}
