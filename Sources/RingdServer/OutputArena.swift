// OutputArena: where one worker's rendered output lives until the kernel has sent it.
//
// Everything a service writes (greetings, numbered echo replies, heartbeats, relayed lines) is
// rendered once into the worker's current chunk and then referenced, never copied, by every
// connection that must send it. The arena is one anonymous mapping of `chunkCount` chunks of
// `chunkSize` bytes, backed by memory only where it is written, so `io.output_memory` is a
// ceiling, not a cost. Chunks are reference counted by their owner thread only:
//
//   1. `writer(room:)` hands out the free tail of the current chunk; the arena itself holds one
//      reference on the current chunk, so it cannot be freed while it is being filled.
//   2. `keep(_:)` turns the bytes just written into an `OutputSpan`.
//   3. Each queued segment that points into a chunk holds one reference (`retain`).
//   4. When a segment is sent or dropped, its reference goes (`release`); another worker that
//      relayed a span sends its references back through the ring (see EventLoop+Relay).
//   5. When the arena moves to a fresh chunk it drops its own reference; a chunk whose count
//      reaches zero goes back on the free list.
//
// Spans name chunks by a global id, `owner * chunkCount + index`, so a worker can queue a span
// of another worker's arena next to its own; every worker's arena has the same geometry.

import RingdServices
import URing

#if canImport(Glibc)
    import Glibc
#endif

/// Bytes in some worker's arena: chunk `chunk` (a global id), `length` bytes from `offset`.
struct OutputSpan: Equatable {
    var chunk: UInt32
    var offset: UInt32
    var length: UInt32
}

/// One worker's output memory; see the file comment. Used by its owner thread only, except
/// `bytes(of:)`, which the kernel and other workers read through pointers.
final class OutputArena {
    let owner: UInt32
    let chunkSize: Int
    let chunkCount: Int
    let base: UnsafeMutableRawPointer
    private let mappingLength: Int
    private let references: UnsafeMutablePointer<UInt32>
    /// A stack of free chunk indices.
    private let freeChunks: UnsafeMutablePointer<UInt32>
    private var freeCount: Int
    /// The chunk being filled, or `noChunk`.
    private var current: UInt32 = noChunk
    private var fill = 0
    private var closed = false

    static let noChunk: UInt32 = .max
    private var noChunk: UInt32 { Self.noChunk }

    init(owner: Int, chunkSize: Int, chunkCount: Int) throws(SystemError) {
        precondition(chunkSize > 0 && chunkCount > 0 && chunkSize <= Int(UInt32.max))
        self.owner = UInt32(owner)
        self.chunkSize = chunkSize
        self.chunkCount = chunkCount
        mappingLength = chunkSize * chunkCount
        guard let memory = mmap(nil, mappingLength, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE, -1, 0),
            memory != MAP_FAILED
        else { throw SystemError("mmap", errno: errno, context: "output arena of \(mappingLength) bytes") }
        base = memory
        references = .allocate(capacity: chunkCount)
        references.initialize(repeating: 0, count: chunkCount)
        freeChunks = .allocate(capacity: chunkCount)
        // Lowest indices on top, so a quiet server touches the fewest pages.
        for position in 0..<chunkCount { freeChunks[position] = UInt32(chunkCount - 1 - position) }
        freeCount = chunkCount
    }

    deinit {
        precondition(closed, "OutputArena released without close()")
    }

    /// Unmaps the arena. Only when no ring can still read from it: after every worker has stopped.
    func close() {
        guard !closed else { return }
        closed = true
        munmap(base, mappingLength)
        references.deallocate()
        freeChunks.deallocate()
    }

    // MARK: - Writing

    /// A writer over at least `room` free bytes of the current chunk, moving to a fresh chunk
    /// when the current one has less; nil when every chunk is in use.
    @inline(__always)
    func writer(room: Int) -> ByteWriter? {
        precondition(room <= chunkSize, "a message larger than an output chunk")
        if current == noChunk || chunkSize - fill < room {
            guard takeFreshChunk() else { return nil }
        }
        return ByteWriter(UnsafeMutableRawBufferPointer(start: base + Int(current) * chunkSize + fill, count: chunkSize - fill))
    }

    /// Keeps the first `count` bytes of the last writer's memory; returns where they are.
    @inline(__always)
    func keep(_ count: Int) -> OutputSpan {
        let span = OutputSpan(chunk: owner * UInt32(chunkCount) + current, offset: UInt32(fill), length: UInt32(count))
        fill += count
        return span
    }

    private func takeFreshChunk() -> Bool {
        guard freeCount > 0 else { return false }
        if current != noChunk { release(current, count: 1) }
        freeCount -= 1
        current = freeChunks[freeCount]
        references[Int(current)] = 1
        fill = 0
        return true
    }

    // MARK: - References

    /// True when `chunk` (a global id) is one of this arena's.
    @inline(__always)
    func owns(_ chunk: UInt32) -> Bool { chunk / UInt32(chunkCount) == owner }

    @inline(__always)
    func retain(_ index: UInt32) {
        references[Int(index)] += 1
    }

    @inline(__always)
    func release(_ index: UInt32, count: UInt32) {
        precondition(references[Int(index)] >= count, "output chunk \(index) released more often than retained")
        references[Int(index)] -= count
        if references[Int(index)] == 0 {
            freeChunks[freeCount] = index
            freeCount += 1
        }
    }

    /// Chunks not in use; for statistics and tests.
    var freeChunkCount: Int { freeCount }

    /// Fewer than a quarter of the chunks are free: whoever pins the rest (clients far behind on
    /// what they were sent) must let go before the arena fills and stops everyone's output.
    var isLow: Bool { freeCount * 4 < chunkCount }
}

/// A queued piece of output: a span, linked into a connection's send queue.
struct OutputSegment {
    var span: OutputSpan
    var next: UInt32
}

/// Fixed-capacity storage for every worker's queued segments, with a free list.
final class SegmentPool {
    static let none: UInt32 = .max
    let capacity: Int
    private let nodes: UnsafeMutablePointer<OutputSegment>
    private var freeHead: UInt32 = SegmentPool.none
    private var highWater: UInt32 = 0
    private(set) var inUse = 0

    init(capacity: Int) {
        precondition(capacity > 0 && capacity < Int(UInt32.max))
        self.capacity = capacity
        nodes = .allocate(capacity: capacity)
    }

    deinit { nodes.deallocate() }

    /// A node holding `span`, or nil when all `capacity` are in use.
    @inline(__always)
    func allocate(_ span: OutputSpan) -> UInt32? {
        let node: UInt32
        if freeHead != Self.none {
            node = freeHead
            freeHead = nodes[Int(node)].next
        } else if highWater < UInt32(capacity) {
            node = highWater
            highWater += 1
        } else {
            return nil
        }
        nodes[Int(node)] = OutputSegment(span: span, next: Self.none)
        inUse += 1
        return node
    }

    @inline(__always)
    func free(_ node: UInt32) {
        nodes[Int(node)].next = freeHead
        freeHead = node
        inUse -= 1
    }

    @inline(__always)
    subscript(node: UInt32) -> UnsafeMutablePointer<OutputSegment> { nodes + Int(node) }
}
