// A connection's send queue as plain bookkeeping over its pools, with no ring: spans that
// continue each other share one segment, the cap refuses without queuing, a short send resumes
// where it stopped, and receive buffers leave in the order they came.
import Testing
@testable import RingdServer

@Suite struct SendQueueTests {
    @Test func adjacentSpansShareOneSegmentAndTheCapRefusesWithoutQueuing() {
        let segments = SegmentPool(capacity: 4)
        var queue = SendQueue()
        #expect(queue.append(OutputSpan(chunk: 3, offset: 0, length: 10), cap: 100, segments: segments) == .newSegment)
        #expect(queue.append(OutputSpan(chunk: 3, offset: 10, length: 5), cap: 100, segments: segments) == .extendedTail)
        #expect(queue.append(OutputSpan(chunk: 4, offset: 15, length: 5), cap: 100, segments: segments) == .newSegment)
        #expect(queue.queuedBytes == 20 && segments.inUse == 2)
        #expect(queue.append(OutputSpan(chunk: 4, offset: 20, length: 81), cap: 100, segments: segments) == .overCap)
        #expect(queue.queuedBytes == 20 && segments.inUse == 2)
        #expect(queue.headSpan(segments: segments) == OutputSpan(chunk: 3, offset: 0, length: 15))
    }

    @Test func aShortSendResumesWhereItStoppedAndAFullOneFreesTheSegment() {
        let segments = SegmentPool(capacity: 4)
        var queue = SendQueue()
        _ = queue.append(OutputSpan(chunk: 1, offset: 100, length: 30), cap: .max, segments: segments)
        _ = queue.append(OutputSpan(chunk: 2, offset: 0, length: 8), cap: .max, segments: segments)
        #expect(queue.sentFromSegment(12, segments: segments) == nil)
        #expect(queue.headSpan(segments: segments) == OutputSpan(chunk: 1, offset: 112, length: 18))
        #expect(queue.sentFromSegment(18, segments: segments) == 1)  // chunk 1's reference goes
        #expect(queue.headSpan(segments: segments) == OutputSpan(chunk: 2, offset: 0, length: 8))
        #expect(queue.sentFromSegment(8, segments: segments) == 2)
        #expect(queue.isEmpty && queue.queuedBytes == 0 && segments.inUse == 0)
    }

    @Test func aSegmentThatGrewDuringItsSendIsDoneOnlyWhenAllOfItIsSent() {
        let segments = SegmentPool(capacity: 2)
        var queue = SendQueue()
        _ = queue.append(OutputSpan(chunk: 0, offset: 0, length: 10), cap: .max, segments: segments)
        // The send of those 10 bytes is in flight when more bytes continue them.
        #expect(queue.append(OutputSpan(chunk: 0, offset: 10, length: 6), cap: .max, segments: segments) == .extendedTail)
        #expect(queue.sentFromSegment(10, segments: segments) == nil)
        #expect(queue.headSpan(segments: segments) == OutputSpan(chunk: 0, offset: 10, length: 6))
    }

    @Test func droppingTheQueueReleasesEveryChunkOnce() {
        let segments = SegmentPool(capacity: 4)
        var queue = SendQueue()
        for chunk: UInt32 in [5, 6, 7] {
            _ = queue.append(OutputSpan(chunk: chunk, offset: 0, length: 1), cap: .max, segments: segments)
        }
        var released: [UInt32] = []
        queue.removeAllSegments(segments: segments) { released.append($0) }
        #expect(released == [5, 6, 7] && queue.isEmpty && queue.queuedBytes == 0 && segments.inUse == 0)
    }

    @Test func receiveBuffersLeaveInTheOrderTheyCame() {
        let links = RawEchoQueues(bufferCount: 8, slots: 1)
        var queue = SendQueue()
        queue.append(buffer: 5, length: 100, links: links)
        queue.append(buffer: 2, length: 40, links: links)
        queue.append(buffer: 7, length: 1, links: links)
        #expect(queue.heldBuffers == 3 && queue.queuedBytes == 141)
        #expect(queue.sentFromBuffer(60, links: links) == nil)
        #expect(queue.headBuffer(links: links) == (5, 60, 40))
        #expect(queue.sentFromBuffer(40, links: links) == 5)
        #expect(queue.headBuffer(links: links) == (2, 0, 40))
        var recycled: [UInt16] = []
        queue.removeAllBuffers(links: links) { recycled.append($0) }
        #expect(recycled == [2, 7] && queue.isEmpty && queue.heldBuffers == 0)
    }
}
