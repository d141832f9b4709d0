// The output arena's reference counting and the relay inbox's order, as plain code (the arena
// is memory; the inbox is two real threads), without a ring.
import Testing
import RingdServices
@testable import RingdServer

@Suite struct OutputArenaTests {
    @Test func aChunkIsReusedOnlyAfterEveryReferenceIsGone() throws {
        let arena = try OutputArena(owner: 0, chunkSize: 64, chunkCount: 2)
        defer { arena.close() }
        var writer = try #require(arena.writer(room: 40))
        writer.write("first message")
        let first = arena.keep(writer.count)
        arena.retain(first.chunk)                    // a queued segment points into it
        // 51 bytes are left; a message that may need 60 moves to the other chunk.
        var second = try #require(arena.writer(room: 60))
        second.write("second")
        let secondSpan = arena.keep(second.count)
        arena.retain(secondSpan.chunk)               // queued too, and not yet sent
        #expect(secondSpan.chunk != first.chunk)
        #expect(arena.freeChunkCount == 0)
        // Moving on again needs a free chunk, and the first is still held by its segment.
        #expect(arena.writer(room: 60) == nil)
        arena.release(first.chunk, count: 1)         // its segment was sent
        #expect(arena.freeChunkCount == 1)
        _ = try #require(arena.writer(room: 60))
        #expect(arena.keep(0).chunk == first.chunk, "the freed chunk is the one reused")
    }

    @Test func writerOverflowNeverTouchesTheNextMessage() throws {
        let arena = try OutputArena(owner: 1, chunkSize: 32, chunkCount: 4)
        defer { arena.close() }
        var writer = try #require(arena.writer(room: 32))
        writer.write("0123456789")
        let span = arena.keep(writer.count)
        #expect(span.chunk / 4 == 1, "global ids carry the owner")
        #expect(arena.owns(span.chunk))
        #expect(!arena.owns(0))
        #expect(span.offset == 0 && span.length == 10)
        var next = try #require(arena.writer(room: 10))
        next.write("abc")
        #expect(arena.keep(next.count).offset == 10)
    }

    @Test func segmentPoolReusesFreedNodesAndRefusesPastCapacity() {
        let pool = SegmentPool(capacity: 2)
        let span = OutputSpan(chunk: 0, offset: 0, length: 1)
        let a = pool.allocate(span)
        let b = pool.allocate(span)
        #expect(a != nil && b != nil)
        #expect(pool.allocate(span) == nil)
        pool.free(a!)
        #expect(pool.allocate(span) == a)
        #expect(pool.inUse == 2)
    }
}

@Suite struct RelayInboxTests {
    /// The `index`th post of the test below: every third for every client, the others for one.
    static func post(_ index: UInt32) -> Post {
        let span = OutputSpan(chunk: index, offset: index &* 7, length: 1)
        return index % 3 == 0 ? Post(span) : Post(span, toSlot: index % 1000, client: UInt64(index) << 20)
    }

    @Test func postsArriveInTheOrderPostedAcrossThreadsAndAFullInboxRefuses() async throws {
        let inbox = RelayInbox(capacity: 64)
        let total: UInt32 = 200_000
        let producer = Task.detached {
            var next: UInt32 = 0
            while next < total {
                if inbox.push(Self.post(next)) { next += 1 }
            }
        }
        var expected: UInt32 = 0
        while expected < total {
            if let post = inbox.pop() {
                #expect(post == Self.post(expected))
                if post != Self.post(expected) { break }
                expected += 1
            }
        }
        await producer.value
        #expect(inbox.pop() == nil)
        for value in 0..<64 { #expect(inbox.push(Post(OutputSpan(chunk: UInt32(value), offset: 0, length: 0)))) }
        #expect(!inbox.push(Post(OutputSpan(chunk: 99, offset: 0, length: 0))), "a full inbox refuses")
    }

    @Test func aPostGrowsOnlyByTheNextBytesForTheSameClients() {
        let first = OutputSpan(chunk: 3, offset: 100, length: 20)
        let next = OutputSpan(chunk: 3, offset: 120, length: 5)
        #expect(Post(first).isContinued(by: Post(next)))
        #expect(Post(first, toSlot: 4, client: 9).isContinued(by: Post(next, toSlot: 4, client: 9)))
        #expect(!Post(first).isContinued(by: Post(next, toSlot: 4, client: 9)), "a private line after a public one")
        #expect(!Post(first, toSlot: 4, client: 9).isContinued(by: Post(next)), "a public line after a private one")
        #expect(
            !Post(first, toSlot: 4, client: 9).isContinued(by: Post(next, toSlot: 4, client: 11)), "a later client in the slot")
        #expect(!Post(first, toSlot: 4, client: 9).isContinued(by: Post(next, toSlot: 5, client: 9)))
        #expect(!Post(first).isContinued(by: Post(OutputSpan(chunk: 3, offset: 121, length: 5))), "a gap")
        #expect(!Post(first).isContinued(by: Post(OutputSpan(chunk: 4, offset: 120, length: 5))), "another chunk")
    }
}
