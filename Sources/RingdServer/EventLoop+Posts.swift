// Posts: lines for the clients of other workers (a service whose reach is `.everyWorker`, the
// relay). A line is rendered once into the sender's worker's arena; that span is queued to the
// local clients and posted, by reference, to every other worker, which queues it to all of its
// clients. Posting goes through a RelayInbox per ordered pair of workers (single producer,
// single consumer, so a sender's lines keep their order) and is flushed once per loop
// iteration, followed by an IORING_OP_MSG_RING doorbell. The receiving worker hands its
// references back with another MSG_RING once its last segment into a chunk has been sent; only
// then can the owner reuse the chunk. No lock on any of these paths.

import RingdServices
import URing

extension EventLoop {
    @inline(__always)
    var posts: PostedSpans { services.posts }

    // MARK: - Posting to other workers

    /// Adds `span` to what goes to every other worker at the end of this iteration. A span that
    /// continues the pending one in the same chunk extends it; each pending span holds one
    /// reference on its chunk, which travels with it into the inbox.
    func post(_ span: OutputSpan) {
        guard group.workerCount > 1 else { return }
        let pending = posts.pending
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
        let pending = posts.pending
        guard let span = pending[target] else { return true }
        guard group.inbox(from: index, to: target).push(span) else { return false }
        pending[target] = nil
        return true
    }

    /// End of iteration: posts what is pending and rings each target's doorbell once.
    func flushPosts() {
        guard group.workerCount > 1 else { return }
        for target in 0..<group.workerCount where target != index && posts.pending[target] != nil {
            // A full inbox keeps the span pending; the next iteration tries again.
            if pushPending(to: target) {
                ring.queueMessage(
                    toRing: group.ringDescriptor(of: target), value: 0,
                    userData: tag(.relayDoorbell, slot: UInt32(index)), failureUserData: tag(.messageFailed))
            }
        }
    }

    // MARK: - Lines from other workers

    /// Queues every span `source` posted to all of this worker's relay clients.
    func drainInbox(from source: Int) {
        let inbox = group.inbox(from: source, to: index)
        while let span = inbox.pop() {
            fanOut(span, except: nil)
            if posts.relayed.consumed(span.chunk) { returnRelayedChunk(span.chunk) }
        }
    }

    /// Hands the consumed posts into `chunk` back to the worker that owns it.
    func returnRelayedChunk(_ chunk: UInt32) {
        let chunkCount = UInt32(arena.chunkCount)
        let owner = Int(chunk / chunkCount)
        let count = posts.relayed.takeConsumed(chunk)
        ring.queueMessage(
            toRing: group.ringDescriptor(of: owner), value: count,
            userData: tag(.chunkRelease, slot: chunk % chunkCount), failureUserData: tag(.messageFailed))
    }

    // MARK: - Chunk references

    @inline(__always)
    func retainChunk(_ chunk: UInt32) {
        if arena.owns(chunk) {
            arena.retain(chunk % UInt32(arena.chunkCount))
        } else {
            posts.relayed.retain(chunk)
        }
    }

    @inline(__always)
    func releaseChunk(_ chunk: UInt32) {
        if arena.owns(chunk) {
            arena.release(chunk % UInt32(arena.chunkCount), count: 1)
        } else if posts.relayed.release(chunk) {
            returnRelayedChunk(chunk)
        }
    }
}
