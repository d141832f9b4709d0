// Relay across workers. A line is rendered once into the sender's worker's arena; that span is
// queued to every other local client and posted, by reference, to every other worker, which
// queues it to all of its clients. Posting goes through a RelayInbox per ordered pair of
// workers (single producer, single consumer, so a sender's lines keep their order) and is
// flushed once per loop iteration, followed by an IORING_OP_MSG_RING doorbell. The receiving
// worker hands its references back with another MSG_RING once its last segment into a chunk
// has been sent; only then can the owner reuse the chunk. No lock on any of these paths.

import RingdServices
import URing

extension EventLoop {
    // MARK: - Local events

    func relayConnect(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard var writer = relayWriter(for: slot, connection) else { return }
        let actions = services.relay!.connect(slot: Int(slot), into: &writer)
        carryOut(actions, writtenBytes: writer.count)
    }

    /// The client in `slot` is closing: the others hear that it left (unless it said /quit,
    /// which already told them).
    func relayDisconnect(_ slot: UInt32) {
        guard services.relay!.name(ofSlot: Int(slot)) != nil, var writer = arena.writer(room: relayRoom) else { return }
        let actions = services.relay!.disconnect(slot: Int(slot), into: &writer)
        carryOut(actions, writtenBytes: writer.count)
    }

    /// A complete line from the client in `slot`: chat, or a command.
    func relayLine(_ line: Line, _ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard var writer = relayWriter(for: slot, connection) else { return }
        let actions = services.relay!.receive(line, from: Int(slot), into: &writer)
        carryOut(actions, writtenBytes: writer.count)
    }

    private var relayRoom: Int { RelayFormat.maximumHubOutputCount(maxLine: services.maxLine) }

    private func relayWriter(for slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) -> ByteWriter? {
        guard let writer = arena.writer(room: relayRoom) else {
            statistics.outputExhausted += 1
            cut(slot, connection, .outputMemoryFull)
            return nil
        }
        return writer
    }

    /// Queues what the hub decided. Its ranges are relative to the writer, which began at the
    /// arena's fill point, so one `keep` covers them all.
    private func carryOut(_ actions: RelayActions, writtenBytes: Int) {
        let written = arena.keep(writtenBytes)
        for action in actions {
            switch action {
            case .send(let range, let recipients):
                let span = OutputSpan(chunk: written.chunk, offset: written.offset + UInt32(range.lowerBound), length: UInt32(range.count))
                switch recipients {
                case .one(let slot):
                    deliver(span, to: UInt32(slot))
                case .allExcept(let slot):
                    fanOut(span, except: UInt32(slot))
                    post(span)
                case .everyone:
                    fanOut(span, except: nil)
                    post(span)
                }
            case .close(let slot):
                let connection = table[UInt32(slot)]
                if connection.pointee.state == .open { closeAfterOutput(UInt32(slot), connection) }
            }
        }
    }

    private func deliver(_ span: OutputSpan, to slot: UInt32) {
        let connection = table[slot]
        if connection.pointee.state == .open { deliver(span, to: slot, connection) }
    }

    @inline(__always)
    private func deliver(_ span: OutputSpan, to slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        // An open connection not on its way out is exactly a client the hub knows: it is named
        // on open, and leaves the hub when it starts closing (closeAfterOutput, beginClose).
        guard !connection.pointee.cutPending, !connection.pointee.closeAfterOutput else { return }
        if let reason = queueOutput(span, on: slot, connection, cap: outputCap) { cut(slot, connection, reason) }
    }

    /// Queues `span` to every local relay client except `excluded`.
    private func fanOut(_ span: OutputSpan, except excluded: UInt32?) {
        table.forEachOpen { slot, connection in
            if slot != excluded { deliver(span, to: slot, connection) }
        }
    }

    // MARK: - Posting to other workers

    /// Adds `span` to what goes to every other worker at the end of this iteration. A span that
    /// continues the pending one in the same chunk extends it; each pending span holds one
    /// reference on its chunk, which travels with it into the inbox.
    private func post(_ span: OutputSpan) {
        guard group.workerCount > 1 else { return }
        let pending = services.pendingPosts!
        for target in 0..<group.workerCount where target != index {
            if let current = pending[target], current.chunk == span.chunk, current.offset + current.length == span.offset {
                pending[target]!.length += span.length
                continue
            }
            if pending[target] != nil && !pushPending(to: target) {
                // The target has not read thousands of batches: it is stuck, and its clients
                // miss this span. Counted; the sender is not held up.
                statistics.relayPostsDropped += 1
                releaseChunk(pending[target]!.chunk)
            }
            pending[target] = span
            retainChunk(span.chunk)
        }
    }

    /// Moves the pending span for `target` into its inbox; false when the inbox is full.
    private func pushPending(to target: Int) -> Bool {
        let pending = services.pendingPosts!
        guard let span = pending[target] else { return true }
        guard group.inbox(from: index, to: target).push(span) else { return false }
        pending[target] = nil
        return true
    }

    /// End of iteration: posts what is pending and rings each target's doorbell once.
    func flushRelayPosts() {
        guard group.workerCount > 1 else { return }
        for target in 0..<group.workerCount where target != index && services.pendingPosts![target] != nil {
            // A full inbox keeps the span pending; the next iteration tries again.
            if pushPending(to: target) {
                ring.queueMessage(toRing: group.ringDescriptor(of: target), value: 0,
                                  userData: tag(.relayDoorbell, slot: UInt32(index)), failureUserData: tag(.messageFailed))
            }
        }
    }

    // MARK: - Lines from other workers

    /// Queues every span `source` posted to all of this worker's relay clients.
    func drainInbox(from source: Int) {
        guard services.relayed != nil else { return }
        let inbox = group.inbox(from: source, to: index)
        while let span = inbox.pop() {
            fanOut(span, except: nil)
            if services.relayed!.consumed(span.chunk) { returnRelayedChunk(span.chunk) }
        }
    }

    /// Hands the consumed posts into `chunk` back to the worker that owns it.
    func returnRelayedChunk(_ chunk: UInt32) {
        let chunkCount = UInt32(arena.chunkCount)
        let owner = Int(chunk / chunkCount)
        let count = services.relayed!.takeConsumed(chunk)
        ring.queueMessage(toRing: group.ringDescriptor(of: owner), value: count,
                          userData: tag(.chunkRelease, slot: chunk % chunkCount), failureUserData: tag(.messageFailed))
    }
}
