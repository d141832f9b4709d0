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

/// One connection's bytes to send, in order: a list of receive buffers (raw echo) or of rendered
/// spans (every other service). The lists live in fixed pools (RawEchoQueues, SegmentPool); the
/// queue holds their ends, the bytes queued, and how much of the head a short send has sent.
/// Plain bookkeeping: the caller sends, recycles buffers and releases chunk references.
struct SendQueue {
    var bufferHead: UInt16 = noBuffer
    var bufferTail: UInt16 = noBuffer
    /// Receive buffers in the list: main ones, and bulk ones (ReceiveBuffers.swift).
    var heldBuffers: UInt16 = 0
    var heldBulkBuffers: UInt16 = 0
    var segmentHead: UInt32 = SegmentPool.none
    var segmentTail: UInt32 = SegmentPool.none
    /// Bytes of the head already sent.
    var sentFromHead: UInt32 = 0
    var queuedBytes: UInt32 = 0

    var isEmpty: Bool { bufferHead == noBuffer && segmentHead == SegmentPool.none }

    // MARK: Receive buffers (raw echo)

    @inline(__always)
    mutating func append(buffer: UInt16, length: UInt32, links: RawEchoQueues) {
        links.append(buffer, length: length, head: &bufferHead, tail: &bufferTail)
        queuedBytes += length
        if links.isBulk(buffer) { heldBulkBuffers += 1 } else { heldBuffers += 1 }
    }

    /// Receive buffers of either kind in the list.
    var heldBufferCount: Int { Int(heldBuffers) + Int(heldBulkBuffers) }

    /// The unsent part of the head buffer: its id, the offset to send from, the bytes left.
    @inline(__always)
    func headBuffer(links: RawEchoQueues) -> (buffer: UInt16, offset: Int, length: Int) {
        (bufferHead, Int(sentFromHead), Int(links.length(of: bufferHead)) - Int(sentFromHead))
    }

    /// Calls `body` with the unsent parts of the first `limit` queued buffers, in order (the
    /// head's from where a short send stopped): buffer id, offset, bytes. Returns how many.
    @inline(__always)
    func forEachQueuedBuffer(limit: Int, links: RawEchoQueues, _ body: (Int, UInt16, Int, Int) -> Void) -> Int {
        var buffer = bufferHead
        var offset = Int(sentFromHead)
        var count = 0
        while buffer != noBuffer && count < limit {
            body(count, buffer, offset, Int(links.length(of: buffer)) - offset)
            offset = 0
            count += 1
            buffer = links.next(after: buffer)
        }
        return count
    }

    /// `count` bytes from the head on went out, one buffer or several (a gathered send); hands
    /// each buffer now all sent to `recycle`. A short send leaves the rest of a buffer queued.
    @inline(__always)
    mutating func sentFromBuffers(_ count: UInt32, links: RawEchoQueues, _ recycle: (UInt16) -> Void) {
        queuedBytes -= count
        var left = count
        while left > 0 {
            let head = bufferHead
            let unsent = links.length(of: head) - sentFromHead
            guard left >= unsent else {
                sentFromHead += left
                return
            }
            left -= unsent
            bufferHead = links.next(after: head)
            if bufferHead == noBuffer { bufferTail = noBuffer }
            sentFromHead = 0
            if links.isBulk(head) { heldBulkBuffers -= 1 } else { heldBuffers -= 1 }
            recycle(head)
        }
    }

    /// Empties the buffer list, handing each buffer to `body` (to be recycled).
    @inline(__always)
    mutating func removeAllBuffers(links: RawEchoQueues, _ body: (UInt16) -> Void) {
        var buffer = bufferHead
        while buffer != noBuffer {
            let next = links.next(after: buffer)
            body(buffer)
            buffer = next
        }
        bufferHead = noBuffer
        bufferTail = noBuffer
        heldBuffers = 0
        heldBulkBuffers = 0
    }

    // MARK: Rendered spans

    enum Appended: Equatable {
        /// The span continues the tail's bytes: the tail grew, no new reference.
        case extendedTail
        /// A new segment holds it: the caller takes a reference on its chunk.
        case newSegment
        /// Queued bytes would pass the cap; nothing was queued.
        case overCap
        /// No free segment; nothing was queued.
        case noSegment
    }

    /// Queues `span` unless the queued bytes would pass `cap`. A span that continues the tail
    /// segment's bytes in the same chunk extends it, so a client sent many lines of one batch, or
    /// every heartbeat, holds one segment however many wait.
    @inline(__always)
    mutating func append(_ span: OutputSpan, cap: UInt32, segments: SegmentPool) -> Appended {
        guard queuedBytes <= cap &- span.length, span.length <= cap else { return .overCap }
        let tail = segmentTail
        let appended: Appended
        if tail != SegmentPool.none, segments[tail].pointee.span.chunk == span.chunk,
            segments[tail].pointee.span.offset &+ segments[tail].pointee.span.length == span.offset
        {
            segments[tail].pointee.span.length += span.length
            appended = .extendedTail
        } else {
            guard let node = segments.allocate(span) else { return .noSegment }
            if tail == SegmentPool.none { segmentHead = node } else { segments[tail].pointee.next = node }
            segmentTail = node
            appended = .newSegment
        }
        queuedBytes += span.length
        return appended
    }

    /// The unsent part of the head segment.
    @inline(__always)
    func headSpan(segments: SegmentPool) -> OutputSpan {
        var span = segments[segmentHead].pointee.span
        span.offset += sentFromHead
        span.length -= sentFromHead
        return span
    }

    /// Calls `body` with the unsent parts of the first `limit` queued segments, in order (the
    /// head's from where a short send stopped). Returns how many.
    @inline(__always)
    func forEachQueuedSpan(limit: Int, segments: SegmentPool, _ body: (Int, OutputSpan) -> Void) -> Int {
        var node = segmentHead
        var skip = sentFromHead
        var count = 0
        while node != SegmentPool.none && count < limit {
            var span = segments[node].pointee.span
            span.offset += skip
            span.length -= skip
            body(count, span)
            skip = 0
            count += 1
            node = segments[node].pointee.next
        }
        return count
    }

    /// `count` bytes from the head on went out, one segment or several; frees each segment now
    /// all sent and hands its chunk to `release` (the caller drops its reference). A segment may
    /// have grown while its send was in flight: it is done only when every byte it holds now
    /// has gone.
    @inline(__always)
    mutating func sentFromSegments(_ count: UInt32, segments: SegmentPool, _ release: (UInt32) -> Void) {
        queuedBytes -= count
        var left = count
        while left > 0 {
            let unsent = segments[segmentHead].pointee.span.length - sentFromHead
            guard left >= unsent else {
                sentFromHead += left
                return
            }
            left -= unsent
            release(popSegment(segments: segments))
        }
    }

    /// Empties the segment list, handing each segment's chunk to `body` (to be released).
    @inline(__always)
    mutating func removeAllSegments(segments: SegmentPool, _ body: (UInt32) -> Void) {
        while segmentHead != SegmentPool.none { body(popSegment(segments: segments)) }
        queuedBytes = 0
    }

    @inline(__always)
    private mutating func popSegment(segments: SegmentPool) -> UInt32 {
        let head = segmentHead
        let segment = segments[head].pointee
        segmentHead = segment.next
        if segment.next == SegmentPool.none { segmentTail = SegmentPool.none }
        sentFromHead = 0
        segments.free(head)
        return segment.span.chunk
    }
}

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
    /// Main receive buffers one raw echo connection may hold unsent before its recv is paused:
    /// a sixteenth of the pool, so a few clients that never read cannot take every buffer.
    let bufferShare: UInt16
    /// The same for bulk buffers: a quarter of their pool. More generous, because a client
    /// that finds the bulk pool dry reads into the main one instead of waiting: clients that
    /// stall can slow the others down to main buffers, not stop them.
    let bulkShare: UInt16
    /// The first bulk buffer id.
    private let bulkBase: UInt16

    /// For `bufferCount` main buffers, ids 0..<bufferCount, and `bulkCount` bulk buffers after
    /// them (ReceiveBuffers' id space).
    init(bufferCount: Int, bulkCount: Int = 0, slots: Int) {
        nextInQueue = .allocate(capacity: bufferCount + bulkCount)
        nextInQueue.initialize(repeating: noBuffer, count: bufferCount + bulkCount)
        bufferLength = .allocate(capacity: bufferCount + bulkCount)
        bufferLength.initialize(repeating: 0, count: bufferCount + bulkCount)
        waiting = .allocate(capacity: slots)
        bufferShare = UInt16(clamping: max(2, bufferCount / 16))
        bulkShare = UInt16(clamping: max(2, bulkCount / 4))
        bulkBase = UInt16(bufferCount)
    }

    @inline(__always)
    func isBulk(_ buffer: UInt16) -> Bool { buffer >= bulkBase }

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
