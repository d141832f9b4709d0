// Sending, from either kind of queue (see SendQueues.swift), and the send completion.

import RingdServices
import URing

#if canImport(Glibc)
    import Glibc
#endif

extension EventLoop {
    // MARK: - Raw echo

    @inline(__always)
    func enqueue(_ bufferID: UInt16, length: UInt32, on slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        rawQueues.append(bufferID, length: length, head: &connection.pointee.queueHead, tail: &connection.pointee.queueTail)
        connection.pointee.queuedBytes += length
        connection.pointee.heldBuffers += 1
        if !connection.pointee.sendInFlight { sendHead(slot, connection) }
        pauseReceiveIfOverLimit(slot, connection)
    }

    @inline(__always)
    private func sendHead(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        let head = connection.pointee.queueHead
        let offset = Int(connection.pointee.sentFromHead)
        connection.pointee.sendInFlight = true
        ring.queueSend(
            socket: connection.pointee.descriptor, bytes: buffers.bytes(of: head) + offset,
            length: Int(rawQueues.length(of: head)) - offset,
            userData: tag(.send, slot: slot, generation: connection.pointee.generation))
    }

    /// Recycles the head receive buffer once all of it has been sent.
    @inline(__always)
    private func retireSentBuffer(_ connection: UnsafeMutablePointer<Connection>) {
        let head = connection.pointee.queueHead
        guard connection.pointee.sentFromHead == rawQueues.length(of: head) else { return }
        connection.pointee.queueHead = rawQueues.next(after: head)
        if connection.pointee.queueHead == noBuffer { connection.pointee.queueTail = noBuffer }
        connection.pointee.sentFromHead = 0
        connection.pointee.heldBuffers -= 1
        buffers.recycle(head)
    }

    /// Gives back every receive buffer still queued, when the connection is gone.
    func recycleQueuedBuffers(_ connection: UnsafeMutablePointer<Connection>) {
        var buffer = connection.pointee.queueHead
        while buffer != noBuffer {
            let next = rawQueues.next(after: buffer)
            buffers.recycle(buffer)
            buffer = next
        }
        connection.pointee.queueHead = noBuffer
        connection.pointee.queueTail = noBuffer
    }

    // MARK: - Rendered output

    /// Queues `span` for the connection and starts sending if it is idle. Returns nil when
    /// queued; otherwise queues nothing and returns why: the connection's queued bytes would
    /// pass `cap`, or no segment is free.
    @inline(__always)
    @discardableResult
    func queueOutput(
        _ span: OutputSpan, on slot: UInt32, _ connection: UnsafeMutablePointer<Connection>, cap: UInt32
    ) -> CutReason? {
        guard span.length > 0 else { return nil }
        guard connection.pointee.queuedBytes <= cap &- span.length, span.length <= cap else { return .outputCap }
        let tail = connection.pointee.outputTail
        if tail != SegmentPool.none, segments[tail].pointee.span.chunk == span.chunk,
            segments[tail].pointee.span.offset &+ segments[tail].pointee.span.length == span.offset
        {
            segments[tail].pointee.span.length += span.length
        } else {
            guard let node = segments.allocate(span) else {
                statistics.outputExhausted += 1
                return .outputMemoryFull
            }
            retainChunk(span.chunk)
            if tail == SegmentPool.none {
                connection.pointee.outputHead = node
            } else {
                segments[tail].pointee.next = node
            }
            connection.pointee.outputTail = node
        }
        connection.pointee.queuedBytes += span.length
        if !connection.pointee.sendInFlight { sendOutputHead(slot, connection) }
        return nil
    }

    @inline(__always)
    private func sendOutputHead(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        let head = segments[connection.pointee.outputHead].pointee.span
        let offset = connection.pointee.sentFromHead
        connection.pointee.sendInFlight = true
        ring.queueSend(
            socket: connection.pointee.descriptor, bytes: group.bytes(of: head) + Int(offset),
            length: Int(head.length - offset),
            userData: tag(.send, slot: slot, generation: connection.pointee.generation))
    }

    /// Frees the head segment once all of it has been sent. The head may have grown while its
    /// send was in flight; it is done only when every byte it holds now has gone.
    @inline(__always)
    private func retireSentSegment(_ connection: UnsafeMutablePointer<Connection>) {
        if connection.pointee.sentFromHead == segments[connection.pointee.outputHead].pointee.span.length {
            popHead(connection)
        }
    }

    @inline(__always)
    private func popHead(_ connection: UnsafeMutablePointer<Connection>) {
        let head = connection.pointee.outputHead
        let segment = segments[head].pointee
        releaseChunk(segment.span.chunk)
        connection.pointee.outputHead = segment.next
        if segment.next == SegmentPool.none { connection.pointee.outputTail = SegmentPool.none }
        connection.pointee.sentFromHead = 0
        segments.free(head)
    }

    /// Drops everything still queued, when the connection is gone.
    func dropOutput(_ connection: UnsafeMutablePointer<Connection>) {
        while connection.pointee.outputHead != SegmentPool.none { popHead(connection) }
        connection.pointee.queuedBytes = 0
    }

    @inline(__always)
    func hasQueuedOutput(_ connection: UnsafeMutablePointer<Connection>) -> Bool {
        connection.pointee.queueHead != noBuffer || connection.pointee.outputHead != SegmentPool.none
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
        connection.pointee.queuedBytes -= sent
        connection.pointee.sentFromHead += sent
        if S.input == .echoed { retireSentBuffer(connection) } else { retireSentSegment(connection) }
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
