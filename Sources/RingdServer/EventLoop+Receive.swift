// Receiving: one multishot recv per connection, from the worker's provided buffer ring; in
// bundles where the kernel has them (Linux 6.10, `io.receive_bundles`), so one completion
// carries every buffer a large read filled, in ring order.
//
// A received buffer's life: (1) the kernel filled it; (2a) raw echo queues it to be sent back
// and recycles it when that send completes; (2b) every other service reads it here, copying
// what it keeps, and it is recycled at once; (2c) input for a closing or lingering connection
// is dropped and recycled. ENOBUFS means the ring ran dry: the data is still in the socket, and
// the recv is re-armed once buffers come back, not at once, which would spin.
//
// Raw echo's streaming clients read into the bulk buffers (ReceiveBuffers.swift): a recv whose
// first completion fills its whole limit (or a bulk buffer) marks the client as streaming, and
// its next recv reads into bulk buffers, if the bulk pool has any. Eight bulk completions in a
// row of less than a quarter of a bulk buffer each, or a bulk pool that ran dry, move it back
// to the main buffers. (Not one small read: a streaming client's reads often end on the short
// tail of a message.)

import RingdServices
import URing

#if canImport(Glibc)
    import Glibc
#endif

extension EventLoop {
    @inline(__always)
    func armReceive(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        connection.pointee.receiveArmed = true
        // A dry bulk pool would only answer ENOBUFS: read from the main one until it has buffers.
        let bulk = connection.pointee.streams && buffers.bulk.unsafelyUnwrapped.available > 0
        connection.pointee.receivesBulk = bulk
        let userData = tag(bulk ? .bulkReceive : .receive, slot: slot, generation: connection.pointee.generation)
        if bulk {
            ring.queueMultishotReceiveBundle(
                socket: connection.pointee.descriptor, group: ReceiveBuffers.bulkGroup, limit: bulkReceiveLimit,
                userData: userData)
        } else if receiveBundles {
            ring.queueMultishotReceiveBundle(
                socket: connection.pointee.descriptor, group: ReceiveBuffers.mainGroup, limit: receiveLimit, userData: userData)
        } else {
            ring.queueMultishotReceive(socket: connection.pointee.descriptor, group: ReceiveBuffers.mainGroup, userData: userData)
        }
    }

    /// A recv completion, from the main buffers or (`bulk`) the bulk buffers.
    @inline(__always)
    func handleReceive(_ completion: Completion, bulk: Bool) {
        let pool = bulk ? buffers.bulk.unsafelyUnwrapped : buffers.main
        let bufferID = completion.bufferID
        // A bundle fills whole buffers but the last; without bundles this is 1.
        let bufferCount = completion.result > 0 ? (Int(completion.result) + pool.bufferSize - 1) / pool.bufferSize : 1
        if let bufferID { pool.take(bufferID, count: bufferCount) }
        guard let connection = table.live(completion.userData) else {
            // Cannot happen while slots are released only after their last completion; if it
            // does, the buffers still go back.
            if let bufferID { recycle(bufferCount, from: bufferID, in: pool) }
            return
        }
        let slot = completion.userData.slot
        if !completion.hasMore { connection.pointee.receiveArmed = false }

        if completion.result > 0, let bufferID {
            statistics.bytesReceived += Int(completion.result)
            if bulk { statistics.bulkBytesReceived += Int(completion.result) }
            received(bufferID, bufferCount, in: pool, bulk: bulk, bytes: Int(completion.result), slot, connection)
        } else if completion.result == 0 {
            connection.pointee.peerFinished = true
            if connection.pointee.lifecycle == .open {
                inputEnded(slot, connection)
            }
        } else if completion.result < 0 {
            switch CompletionError(errno: -completion.result) {
            case .noBuffers where bulk:
                // The bulk pool ran dry: read on from the main buffers at once.
                connection.pointee.streams = false
            case .noBuffers:
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
        guard connection.pointee.lifecycle != .free, connection.pointee.generation == completion.userData.generation else {
            return
        }
        continueAfterReceive(slot, connection)
    }

    /// Steps (2a) to (2c) of the file comment, for each of the `bufferCount` buffers of `pool`
    /// from `first` on, which hold `bytes` in all.
    @inline(__always)
    private func received(
        _ first: UInt16, _ bufferCount: Int, in pool: ProvidedBufferRing, bulk: Bool, bytes: Int, _ slot: UInt32,
        _ connection: UnsafeMutablePointer<Connection>
    ) {
        guard connection.pointee.lifecycle == .open else {
            recycle(bufferCount, from: first, in: pool)
            return
        }
        connection.pointee.lastActivity = now
        let position = pool.position(of: first)
        var left = bytes
        for index in 0..<bufferCount {
            let buffer = index == 0 ? first : pool.buffer(index, from: position)
            let length = min(left, pool.bufferSize)
            left -= length
            if S.input == .echoed {
                let id = bulk ? buffers.bulkBase + buffer : buffer
                connection.pointee.queue.append(buffer: id, length: UInt32(length), links: rawQueues)
            } else {
                // A line may close the connection; the rest of the bundle is then dropped.
                if S.input == .lines && connection.pointee.lifecycle == .open {
                    receivedLines(UnsafeRawBufferPointer(start: pool.bytes(of: buffer), count: length), slot, connection)
                }
                pool.recycle(buffer)
            }
        }
        if S.input == .echoed {
            if buffers.bulk != nil { steer(bulk: bulk, bytes: bytes, slot, connection) }
            sendQueued(slot, connection)
        }
    }

    /// Small bulk reads in a row that move a client back to the main buffers (file comment).
    static var smallBulkReadsToLeave: UInt8 { 8 }

    /// Raw echo: moves a client that streams to the bulk buffers from its next recv on, and
    /// one whose reads are small again back to the main ones (file comment). A bulk recv that
    /// is still armed is cancelled for that; its end arms the next recv in the main buffers.
    @inline(__always)
    private func steer(bulk: Bool, bytes: Int, _ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        if !bulk {
            if bytes >= streamingRead {
                connection.pointee.streams = true
                connection.pointee.smallBulkReads = 0
            }
        } else if bytes >= buffers.bulk.unsafelyUnwrapped.bufferSize / 4 {
            connection.pointee.smallBulkReads = 0
        } else if connection.pointee.streams {
            connection.pointee.smallBulkReads += 1
            guard connection.pointee.smallBulkReads >= Self.smallBulkReadsToLeave else { return }
            connection.pointee.streams = false
            if connection.pointee.receiveArmed && !connection.pointee.receivePaused {
                ring.queueCancel(
                    target: tag(.bulkReceive, slot: slot, generation: connection.pointee.generation), userData: tag(.cancel))
            }
        }
    }

    /// Gives back `count` buffers of `pool` from `first` on in ring order (a whole bundle).
    private func recycle(_ count: Int, from first: UInt16, in pool: ProvidedBufferRing) {
        let position = pool.position(of: first)
        for index in 0..<count { pool.recycle(index == 0 ? first : pool.buffer(index, from: position)) }
    }

    /// What the connection needs once a recv completion is handled: a close that can finish,
    /// a close owed after a half-close, or the recv armed again.
    private func continueAfterReceive(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        if connection.pointee.lifecycle == .closing {
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
            rawQueues.listWaiting(slot)
        }
    }

    /// Buffers came back: re-arms the recvs that ran dry, oldest first. (Arming takes no buffer;
    /// a recv that finds the ring dry again waits again.)
    func rearmWaitingForBuffers() {
        guard buffers.main.available > 0 else { return }
        rawQueues.takeAllWaiting { slot in
            let connection = table[slot]
            connection.pointee.listedAsWaiting = false
            guard connection.pointee.lifecycle.isHeldOpen, connection.pointee.waitingForBuffers else { return }
            connection.pointee.waitingForBuffers = false
            if !connection.pointee.receiveArmed && !connection.pointee.receivePaused { armReceive(slot, connection) }
        }
    }

    // MARK: - Back-pressure

    /// A client that sends faster than it reads what it is sent (a `.paused` service): stop
    /// reading until its queue drains, and TCP flow control slows the client down. The queue
    /// is bounded in bytes (`io.output_limit`) and, for raw echo, in receive buffers held.
    @inline(__always)
    func pauseReceiveIfOverLimit(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard
            connection.pointee.queue.queuedBytes > limits.outputLimit
                || connection.pointee.queue.heldBuffers > rawQueues.bufferShare
                || connection.pointee.queue.heldBulkBuffers > rawQueues.bulkShare
        else { return }
        pauseReceive(slot, connection)
    }

    /// Paused even when no recv is armed (a limited recv that just ended), so that it is not
    /// armed again until `resumeReceive`.
    @inline(__always)
    func pauseReceive(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard !connection.pointee.receivePaused else { return }
        connection.pointee.receivePaused = true
        guard connection.pointee.receiveArmed else { return }
        let armed = tag(
            connection.pointee.receivesBulk ? .bulkReceive : .receive, slot: slot, generation: connection.pointee.generation)
        ring.queueCancel(target: armed, userData: tag(.cancel))
    }

    /// Reading resumes once the queue is down to half of both bounds.
    @inline(__always)
    func resumeReceiveIfDrained(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard
            connection.pointee.receivePaused && connection.pointee.queue.queuedBytes <= limits.outputLimit / 2
                && connection.pointee.queue.heldBuffers <= rawQueues.bufferShare / 2
                && connection.pointee.queue.heldBulkBuffers <= rawQueues.bulkShare / 2
        else { return }
        resumeReceive(slot, connection)
    }

    @inline(__always)
    func resumeReceive(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        connection.pointee.receivePaused = false
        if !connection.pointee.receiveArmed && !connection.pointee.peerFinished && !connection.pointee.waitingForBuffers {
            armReceive(slot, connection)
        }
    }
}
