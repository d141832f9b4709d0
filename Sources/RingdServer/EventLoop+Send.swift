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

    /// Starts sending what was just queued, unless a send is in flight (its completion sends the
    /// rest), and pauses the recv if the queue is over its bounds.
    @inline(__always)
    func sendQueued(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        if !connection.pointee.sendInFlight { sendHead(slot, connection) }
        pauseReceiveIfOverLimit(slot, connection)
    }

    /// Sends the queued buffers: the head alone with a plain send, or up to `io.send_gather` of
    /// them in one sendmsg (SendVectors.swift).
    @inline(__always)
    private func sendHead(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        connection.pointee.sendInFlight = true
        let userData = tag(.send, slot: slot, generation: connection.pointee.generation)
        if vectors.limit > 1 && connection.pointee.queue.heldBufferCount > 1 {
            let parts = vectors.parts(of: slot)
            let count = connection.pointee.queue.forEachQueuedBuffer(limit: vectors.limit, links: rawQueues) {
                index, buffer, offset, length in
                parts[index] = iovec(iov_base: buffers.bytes(of: buffer) + offset, iov_len: length)
            }
            ring.queueSendMessage(
                socket: connection.pointee.descriptor, message: vectors.message(of: slot, count: count), userData: userData)
            return
        }
        let head = connection.pointee.queue.headBuffer(links: rawQueues)
        ring.queueSend(
            socket: connection.pointee.descriptor, bytes: buffers.bytes(of: head.buffer) + head.offset, length: head.length,
            userData: userData)
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

    /// Sends the queued spans: the head alone, or up to `io.send_gather` segments in one sendmsg.
    @inline(__always)
    private func sendOutputHead(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        connection.pointee.sendInFlight = true
        let userData = tag(.send, slot: slot, generation: connection.pointee.generation)
        let queue = connection.pointee.queue
        if vectors.limit > 1 && queue.segmentHead != queue.segmentTail {
            let parts = vectors.parts(of: slot)
            let count = queue.forEachQueuedSpan(limit: vectors.limit, segments: segments) { index, span in
                parts[index] = iovec(
                    iov_base: UnsafeMutableRawPointer(mutating: group.bytes(of: span)), iov_len: Int(span.length))
            }
            ring.queueSendMessage(
                socket: connection.pointee.descriptor, message: vectors.message(of: slot, count: count), userData: userData)
            return
        }
        let head = queue.headSpan(segments: segments)
        ring.queueSend(
            socket: connection.pointee.descriptor, bytes: group.bytes(of: head), length: Int(head.length), userData: userData)
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
            connection.pointee.queue.sentFromBuffers(sent, links: rawQueues) { buffers.recycle($0) }
        } else {
            connection.pointee.queue.sentFromSegments(sent, segments: segments) { releaseChunk($0) }
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
