// Receiving: one multishot recv per connection, from the worker's provided buffer ring.
//
// A received buffer's life: (1) the kernel filled it; (2a) raw echo queues it to be sent back
// and recycles it when that send completes; (2b) every other service reads it here, copying
// what it keeps, and it is recycled at once; (2c) input for a closing or lingering connection
// is dropped and recycled. ENOBUFS means the ring ran dry: the data is still in the socket, and
// the recv is re-armed once buffers come back, not at once, which would spin.

import RingdServices
import URing

#if canImport(Glibc)
    import Glibc
#endif

extension EventLoop {
    @inline(__always)
    func armReceive(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        connection.pointee.receiveArmed = true
        ring.queueMultishotReceive(
            socket: connection.pointee.descriptor, group: bufferGroup,
            userData: tag(.receive, slot: slot, generation: connection.pointee.generation))
    }

    func handleReceive(_ completion: Completion) {
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
            statistics.bytesReceived += Int(completion.result)
            received(bufferID, count: Int(completion.result), slot, connection)
        } else if completion.result == 0 {
            connection.pointee.peerFinished = true
            if connection.pointee.lifecycle == .open {
                inputEnded(slot, connection)
            }
        } else if completion.result < 0 {
            switch CompletionError(errno: -completion.result) {
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

    /// Steps (2a) to (2c) of the file comment.
    @inline(__always)
    private func received(_ bufferID: UInt16, count: Int, _ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard connection.pointee.lifecycle == .open else {
            buffers.recycle(bufferID)
            return
        }
        connection.pointee.lastActivity = now
        if S.input == .echoed {
            enqueue(bufferID, length: UInt32(count), on: slot, connection)
        } else {
            if S.input == .lines {
                receivedLines(UnsafeRawBufferPointer(start: buffers.bytes(of: bufferID), count: count), slot, connection)
            }
            buffers.recycle(bufferID)
        }
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
        guard buffers.available > 0 else { return }
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
        else { return }
        pauseReceive(slot, connection)
    }

    @inline(__always)
    func pauseReceive(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard connection.pointee.receiveArmed && !connection.pointee.receivePaused else { return }
        connection.pointee.receivePaused = true
        ring.queueCancel(target: tag(.receive, slot: slot, generation: connection.pointee.generation), userData: tag(.cancel))
    }

    /// Reading resumes once the queue is down to half of both bounds.
    @inline(__always)
    func resumeReceiveIfDrained(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard
            connection.pointee.receivePaused && connection.pointee.queue.queuedBytes <= limits.outputLimit / 2
                && connection.pointee.queue.heldBuffers <= rawQueues.bufferShare / 2
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
