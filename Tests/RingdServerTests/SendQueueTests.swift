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
        var released: [UInt32] = []
        queue.sentFromSegments(12, segments: segments) { released.append($0) }
        #expect(released.isEmpty)
        #expect(queue.headSpan(segments: segments) == OutputSpan(chunk: 1, offset: 112, length: 18))
        queue.sentFromSegments(18, segments: segments) { released.append($0) }
        #expect(released == [1])  // chunk 1's reference goes
        #expect(queue.headSpan(segments: segments) == OutputSpan(chunk: 2, offset: 0, length: 8))
        queue.sentFromSegments(8, segments: segments) { released.append($0) }
        #expect(released == [1, 2])
        #expect(queue.isEmpty && queue.queuedBytes == 0 && segments.inUse == 0)
    }

    @Test func aSegmentThatGrewDuringItsSendIsDoneOnlyWhenAllOfItIsSent() {
        let segments = SegmentPool(capacity: 2)
        var queue = SendQueue()
        _ = queue.append(OutputSpan(chunk: 0, offset: 0, length: 10), cap: .max, segments: segments)
        // The send of those 10 bytes is in flight when more bytes continue them.
        #expect(queue.append(OutputSpan(chunk: 0, offset: 10, length: 6), cap: .max, segments: segments) == .extendedTail)
        var released: [UInt32] = []
        queue.sentFromSegments(10, segments: segments) { released.append($0) }
        #expect(released.isEmpty)
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
        var recycled: [UInt16] = []
        queue.sentFromBuffers(60, links: links) { recycled.append($0) }
        #expect(recycled.isEmpty)
        #expect(queue.headBuffer(links: links) == (5, 60, 40))
        queue.sentFromBuffers(40, links: links) { recycled.append($0) }
        #expect(recycled == [5])
        #expect(queue.headBuffer(links: links) == (2, 0, 40))
        recycled = []
        queue.removeAllBuffers(links: links) { recycled.append($0) }
        #expect(recycled == [2, 7] && queue.isEmpty && queue.heldBuffers == 0)
    }

    @Test func aGatheredSendListsEveryQueuedBufferAndRetiresAsManyAsItSent() {
        let links = RawEchoQueues(bufferCount: 8, slots: 1)
        var queue = SendQueue()
        for (buffer, length): (UInt16, UInt32) in [(4, 100), (1, 50), (6, 30), (3, 20)] {
            queue.append(buffer: buffer, length: length, links: links)
        }
        var recycled: [UInt16] = []
        queue.sentFromBuffers(70, links: links) { recycled.append($0) }
        var parts: [String] = []
        let count = queue.forEachQueuedBuffer(limit: 3, links: links) { index, buffer, offset, length in
            parts.append("\(index):\(buffer)+\(offset)x\(length)")
        }
        #expect(count == 3 && parts == ["0:4+70x30", "1:1+0x50", "2:6+0x30"])
        // A gathered send that stops inside its third part: two buffers go, the third resumes.
        queue.sentFromBuffers(30 + 50 + 10, links: links) { recycled.append($0) }
        #expect(recycled == [4, 1] && queue.heldBuffers == 2 && queue.queuedBytes == 40)
        #expect(queue.headBuffer(links: links) == (6, 10, 20))
        queue.sentFromBuffers(40, links: links) { recycled.append($0) }
        #expect(recycled == [4, 1, 6, 3] && queue.isEmpty && queue.queuedBytes == 0)
    }

    @Test func aGatheredSendOfSpansReleasesEachFinishedChunkOnce() {
        let segments = SegmentPool(capacity: 4)
        var queue = SendQueue()
        for chunk: UInt32 in [9, 8, 7] {
            _ = queue.append(OutputSpan(chunk: chunk, offset: 0, length: 10), cap: .max, segments: segments)
        }
        var spans: [OutputSpan] = []
        #expect(queue.forEachQueuedSpan(limit: 2, segments: segments) { _, span in spans.append(span) } == 2)
        #expect(spans == [OutputSpan(chunk: 9, offset: 0, length: 10), OutputSpan(chunk: 8, offset: 0, length: 10)])
        var released: [UInt32] = []
        queue.sentFromSegments(15, segments: segments) { released.append($0) }
        #expect(released == [9] && queue.headSpan(segments: segments) == OutputSpan(chunk: 8, offset: 5, length: 5))
        queue.sentFromSegments(15, segments: segments) { released.append($0) }
        #expect(released == [9, 8, 7] && queue.isEmpty && segments.inUse == 0)
    }
}
