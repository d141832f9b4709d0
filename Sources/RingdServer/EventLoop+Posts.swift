// Posts: lines for the clients of other workers (a service whose reach is `.everyWorker`, the
// relay). A line is rendered once into the sender's worker's arena; that span is queued to the
// local clients and posted, by reference, to every other worker, which queues it to all of its
// clients. A line for one client of another worker (a relay /msg) is posted to that worker
// alone, naming the slot and the client's number; that worker queues it only if its service
// says the slot still holds that client, and counts it dropped otherwise. Posting goes through
// a RelayInbox per ordered pair of workers (single producer, single consumer, so a sender's
// lines, private ones among them, keep their order) and is flushed once per loop iteration,
// followed by an IORING_OP_MSG_RING doorbell. The receiving worker hands its references back
// with another MSG_RING once its last segment into a chunk has been sent; only then can the
// owner reuse the chunk. No lock on any of these paths.

import RingdServices
import URing

extension EventLoop {
    @inline(__always)
    var posts: PostedSpans { services.posts }

    // MARK: - Posting to other workers

    /// Adds `span` to what goes to every other worker at the end of this iteration.
    func post(_ span: OutputSpan) {
        guard group.workerCount > 1 else { return }
        for target in 0..<group.workerCount where target != index { post(Post(span), to: target) }
    }

    /// Adds `post` to what goes to worker `target` at the end of this iteration, after what is
    /// pending for it. A post that continues the pending one (same clients, the next bytes of
    /// the same chunk) extends it; otherwise the pending one goes into the inbox first, so the
    /// target reads them in the order they were made. Each pending post holds one reference on
    /// its chunk, which travels with it into the inbox.
    func post(_ post: Post, to target: Int) {
        let pending = posts.pending
        if let current = pending[target], current.isContinued(by: post) {
            pending[target]!.span.length += post.span.length
            return
        }
        if pending[target] != nil && !pushPending(to: target) {
            // The target has not read thousands of batches: it is stuck, and its clients
            // miss this post. Counted; the sender is not held up.
            statistics.relayPostsDropped += 1
            releaseChunk(pending[target]!.span.chunk)
        }
        pending[target] = post
        retainChunk(post.span.chunk)
    }

    /// Moves the pending post for `target` into its inbox; false when the inbox is full.
    private func pushPending(to target: Int) -> Bool {
        let pending = posts.pending
        guard let post = pending[target] else { return true }
        guard group.inbox(from: index, to: target).push(post) else { return false }
        pending[target] = nil
        return true
    }

    /// End of iteration: posts what is pending and rings each target's doorbell once.
    func flushPosts() {
        guard group.workerCount > 1 else { return }
        for target in 0..<group.workerCount where target != index && posts.pending[target] != nil {
            // A full inbox keeps the post pending; the next iteration tries again.
            if pushPending(to: target) {
                ring.queueMessage(
                    toRing: group.ringDescriptor(of: target), value: 0,
                    userData: tag(.relayDoorbell, slot: UInt32(index)), failureUserData: tag(.messageFailed))
            }
        }
    }

    // MARK: - Lines from other workers

    /// Queues every post from `source` to the clients it names: all of this worker's relay
    /// clients, or the one in its slot if that slot still holds it.
    func drainInbox(from source: Int) {
        let inbox = group.inbox(from: source, to: index)
        while let post = inbox.pop() {
            if post.slot == Post.everyClient {
                fanOut(post.span, except: nil)
            } else {
                deliver(post.span, toClient: post.client, inSlot: post.slot)
            }
            if posts.relayed.consumed(post.span.chunk) { returnRelayedChunk(post.span.chunk) }
        }
    }

    /// Queues `span` to the client numbered `client` in `slot` if the service says the slot
    /// still holds it; otherwise its client left since it was sent, and its lines are counted.
    @inline(__always)
    func deliver(_ span: OutputSpan, toClient client: UInt64, inSlot slot: UInt32) {
        guard service.holdsClient(client, inSlot: Int(slot)) else {
            statistics.relayPrivateLinesDropped += lineCount(of: span)
            return
        }
        deliver(span, to: slot, table[slot])
    }

    /// The lines in `span`: a post carries several when they followed each other in one chunk,
    /// and every relay line ends in its one "\n". Read only for a post that is dropped.
    private func lineCount(of span: OutputSpan) -> Int {
        let bytes = UnsafeRawBufferPointer(start: group.bytes(of: span), count: Int(span.length))
        var count = 0
        for byte in bytes where byte == UInt8(ascii: "\n") { count += 1 }
        return count
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
