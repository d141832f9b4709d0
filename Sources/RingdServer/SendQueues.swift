// The send queues. One send is in flight per connection, from the head of its queue, so bytes
// never reorder; a short send resumes where it stopped.
//
// - Raw echo sends straight from the receive buffers the data arrived in (RawEchoQueues): a
//   connection's queue is a list threaded through the buffer ids, so a byte is copied once into
//   user space and once out, and a buffer returns to the kernel when its send completes.
// - Every other service sends rendered output (OutputArena spans), queued as a list of
//   SegmentPool nodes. Queuing coalesces: a span that continues the tail segment's bytes in the
//   same chunk extends it instead of taking a node, so a client that gets every heartbeat, or
//   every relayed line of a batch, has one segment however many messages wait for it.

/// The list terminator for buffer-id lists.
let noBuffer: UInt16 = .max

/// Raw echo's queues (links and lengths per receive buffer) and the list of connections whose
/// recv ran out of buffers. Fixed capacity, allocated at start.
final class RawEchoQueues {
    /// Next buffer in the same connection's queue, by buffer id.
    private let nextInQueue: UnsafeMutablePointer<UInt16>
    /// Bytes received into each buffer.
    private let bufferLength: UnsafeMutablePointer<UInt32>
    /// Slots whose recv stopped with ENOBUFS, re-armed in this order when buffers are recycled.
    private let waiting: UnsafeMutablePointer<UInt32>
    private(set) var waitingCount = 0
    /// Receive buffers one raw echo connection may hold unsent before its recv is paused: a
    /// sixteenth of the pool, so a few clients that never read cannot take every buffer.
    let bufferShare: UInt16

    init(bufferCount: Int, slots: Int) {
        nextInQueue = .allocate(capacity: bufferCount)
        nextInQueue.initialize(repeating: noBuffer, count: bufferCount)
        bufferLength = .allocate(capacity: bufferCount)
        bufferLength.initialize(repeating: 0, count: bufferCount)
        waiting = .allocate(capacity: slots)
        bufferShare = UInt16(clamping: max(2, bufferCount / 16))
    }

    deinit {
        nextInQueue.deallocate()
        bufferLength.deallocate()
        waiting.deallocate()
    }

    /// Appends `buffer`, holding `length` bytes, to the queue `head`...`tail`.
    @inline(__always)
    func append(_ buffer: UInt16, length: UInt32, head: inout UInt16, tail: inout UInt16) {
        bufferLength[Int(buffer)] = length
        nextInQueue[Int(buffer)] = noBuffer
        if tail == noBuffer { head = buffer } else { nextInQueue[Int(tail)] = buffer }
        tail = buffer
    }

    @inline(__always)
    func length(of buffer: UInt16) -> UInt32 { bufferLength[Int(buffer)] }

    @inline(__always)
    func next(after buffer: UInt16) -> UInt16 { nextInQueue[Int(buffer)] }

    /// Lists `slot` as waiting for buffers; each slot is listed at most once.
    func listWaiting(_ slot: UInt32) {
        waiting[waitingCount] = slot
        waitingCount += 1
    }

    /// Hands every waiting slot to `body`, oldest first, and empties the list.
    @inline(__always)
    func takeAllWaiting(_ body: (UInt32) -> Void) {
        for position in 0..<waitingCount { body(waiting[position]) }
        waitingCount = 0
    }
}
