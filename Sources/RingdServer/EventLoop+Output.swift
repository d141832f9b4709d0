// The send queues of every service but raw echo: lists of segments that point into the output
// arenas (see OutputArena). One send is in flight per connection, from the head segment, so
// bytes never reorder; a short send resumes where it stopped.
//
// Queuing coalesces: a span that continues the tail segment's bytes in the same chunk extends
// it instead of taking a node, so a client that gets every heartbeat, or every relayed line of
// a batch, has one segment however many messages wait for it, and the next send carries them all.

import URing
#if canImport(Glibc)
import Glibc
#endif

extension EventLoop {
    /// Queues `span` for the connection and starts sending if it is idle. Returns nil when
    /// queued; otherwise queues nothing and returns why: the connection's queued bytes would
    /// pass `cap`, or no segment is free.
    @inline(__always)
    @discardableResult
    func queueOutput(_ span: OutputSpan, on slot: UInt32, _ connection: UnsafeMutablePointer<Connection>, cap: UInt32) -> CutReason? {
        guard span.length > 0 else { return nil }
        guard connection.pointee.queuedBytes <= cap &- span.length, span.length <= cap else { return .outputCap }
        let tail = connection.pointee.outputTail
        if tail != SegmentPool.none, segments[tail].pointee.span.chunk == span.chunk,
           segments[tail].pointee.span.offset &+ segments[tail].pointee.span.length == span.offset {
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
    func sendOutputHead(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        let head = segments[connection.pointee.outputHead].pointee.span
        let offset = connection.pointee.sentFromHead
        connection.pointee.sendInFlight = true
        ring.queueSend(socket: connection.pointee.descriptor, bytes: group.bytes(of: head) + Int(offset),
                       length: Int(head.length - offset),
                       userData: tag(.send, slot: slot, generation: connection.pointee.generation))
    }

    /// Frees the head segment once all of it has been sent. The head may have grown while its
    /// send was in flight; it is done only when every byte it holds now has gone.
    @inline(__always)
    func retireSentSegment(_ connection: UnsafeMutablePointer<Connection>) {
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

    // MARK: - Closing after a reply

    /// Closes the connection once what is queued for it has been sent.
    func closeAfterOutput(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard connection.pointee.state == .open && !connection.pointee.closeAfterOutput else { return }
        connection.pointee.closeAfterOutput = true
        // A relay client on its way out is gone for the others now, not when its socket closes.
        if service == .relay { relayDisconnect(slot) }
        if !connection.pointee.sendInFlight && !hasQueuedOutput(connection) { closeGracefully(slot, connection) }
    }

    /// Everything owed is sent: FIN now, then read and drop until the peer closes too. Closing
    /// with unread input would send a reset, and a reset can destroy the reply still in the
    /// peer's receive queue (the error line before a close, for instance).
    func closeGracefully(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        if connection.pointee.peerFinished && !connection.pointee.receiveArmed {
            beginClose(slot, connection)
            return
        }
        guard !connection.pointee.lingering else { return }
        connection.pointee.lingering = true
        connection.pointee.lastActivity = now  // the linger limit counts from here
        ring.queueShutdownWrite(socket: connection.pointee.descriptor, userData: tag(.shutdownWrite))
        connection.pointee.receivePaused = false
        if !connection.pointee.receiveArmed && !connection.pointee.waitingForBuffers && !connection.pointee.peerFinished {
            armReceive(slot, connection)
        }
    }

    // MARK: - Chunk references

    @inline(__always)
    func retainChunk(_ chunk: UInt32) {
        if arena.owns(chunk) {
            arena.retain(chunk % UInt32(arena.chunkCount))
        } else {
            services.relayed!.retain(chunk)
        }
    }

    @inline(__always)
    func releaseChunk(_ chunk: UInt32) {
        if arena.owns(chunk) {
            arena.release(chunk % UInt32(arena.chunkCount), count: 1)
        } else if services.relayed!.release(chunk) {
            returnRelayedChunk(chunk)
        }
    }
}
