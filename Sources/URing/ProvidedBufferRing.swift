// ProvidedBufferRing: a ring-mapped group of receive buffers (Linux 5.19, IORING_REGISTER_PBUF_RING).
//
// The kernel picks a buffer for each multishot recv completion, so a connection holds no
// receive memory while it is idle: memory scales with data in flight, not with connections.
//
// A buffer's life:
//   1. It sits in the ring, owned by the kernel.
//   2. A recv completion hands it to the event loop (IORING_CQE_F_BUFFER, id in the flags).
//   3. The loop uses it (echo sends straight from it) and must recycle it on every path:
//      after its send completes, when its connection closes, or at once if it is not needed.
//   4. `recycle` writes it back into the ring's tail; `publish` makes the batch visible to the
//      kernel with one store, once per loop iteration.
// liburing 2.3 lacks io_uring_setup_buf_ring, so the ring memory is mapped and registered here.

import CUring

#if canImport(Glibc)
    import Glibc
#endif

public final class ProvidedBufferRing {
    public let group: UInt16
    public let count: Int
    public let bufferSize: Int
    private let entries: UnsafeMutablePointer<io_uring_buf_ring>
    private let entriesLength: Int
    private let storage: UnsafeMutableRawPointer
    private let storageLength: Int
    private let mask: Int32
    /// Buffers written back since the last publish.
    private var pendingRecycles: Int32 = 0
    /// The ring as the kernel reads it: the id written at each position, and where each id was
    /// last written. A bundle completion names only its first buffer; the others are the ones
    /// after it in ring order (`buffer(_:from:)`).
    private let idAtPosition: UnsafeMutablePointer<UInt16>
    private let positionOfID: UnsafeMutablePointer<UInt16>
    /// Where the next recycled buffer goes (the tail plus the recycles not yet published).
    private var nextPosition: UInt16 = 0
    /// Buffers the kernel can pick from right now (after the next publish).
    public private(set) var available: Int
    private var isClosed = false

    /// Maps `count` buffers of `bufferSize` bytes and registers them as group `group`.
    /// `count` must be a power of two no larger than 32768.
    public init(ring: Ring, group: UInt16, count: Int, bufferSize: Int) throws(SystemError) {
        precondition(count > 0 && count <= 32768 && count & (count - 1) == 0, "buffer count must be a power of two up to 32768")
        self.group = group
        self.count = count
        self.bufferSize = bufferSize
        entriesLength = count * MemoryLayout<io_uring_buf>.stride
        storageLength = count * bufferSize
        guard let entryMemory = mmap(nil, entriesLength, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0),
            entryMemory != MAP_FAILED
        else { throw SystemError("mmap", errno: Glibc.errno, context: "buffer ring entries") }
        guard let bufferMemory = mmap(nil, storageLength, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0),
            bufferMemory != MAP_FAILED
        else {
            munmap(entryMemory, entriesLength)
            throw SystemError("mmap", errno: Glibc.errno, context: "\(count) receive buffers of \(bufferSize) bytes")
        }
        entries = entryMemory.bindMemory(to: io_uring_buf_ring.self, capacity: 1)
        storage = bufferMemory
        mask = io_uring_buf_ring_mask(UInt32(count))

        var registration = io_uring_buf_reg()
        registration.ring_addr = UInt64(UInt(bitPattern: entryMemory))
        registration.ring_entries = UInt32(count)
        registration.bgid = group
        let result = io_uring_register_buf_ring(ring.handle, &registration, 0)
        if result < 0 {
            munmap(entryMemory, entriesLength)
            munmap(bufferMemory, storageLength)
            throw SystemError("io_uring_register_buf_ring", errno: -result, context: "provided buffer rings need Linux 5.19")
        }
        io_uring_buf_ring_init(entries)
        idAtPosition = .allocate(capacity: count)
        positionOfID = .allocate(capacity: count)
        available = 0
        for id in 0..<count { recycle(UInt16(id)) }
        publish()
    }

    /// Unmaps the buffers. Call after the ring is closed: the registration goes with the ring,
    /// and until then a send in flight may still read from this memory.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        munmap(UnsafeMutableRawPointer(entries), entriesLength)
        munmap(storage, storageLength)
        idAtPosition.deallocate()
        positionOfID.deallocate()
    }

    deinit {
        precondition(isClosed, "ProvidedBufferRing dropped without close(): its mappings would leak")
    }

    /// The memory of buffer `id`.
    @inline(__always)
    public func bytes(of id: UInt16) -> UnsafeMutableRawPointer {
        storage + Int(id) * bufferSize
    }

    /// Step 2 of a buffer's life: the kernel handed `count` buffers, from `id` on in ring order,
    /// to a completion (more than one for a bundle).
    @inline(__always)
    public func take(_ id: UInt16, count: Int = 1) { available -= count }

    /// Where buffer `id` sits in the ring: read for a bundle's first buffer before any of the
    /// bundle's buffers is recycled.
    @inline(__always)
    public func position(of id: UInt16) -> UInt16 { positionOfID[Int(id)] }

    /// The buffer `distance` entries after ring position `position`: the kernel fills a bundle
    /// from consecutive entries, so these are its second, third... buffers. Recycling writes
    /// at the tail, which cannot reach entry `distance` before `distance` buffers have been
    /// recycled, so a caller may recycle each of a bundle's buffers once it has read the next.
    @inline(__always)
    public func buffer(_ distance: Int, from position: UInt16) -> UInt16 {
        idAtPosition[(Int(position) + distance) & Int(mask)]
    }

    /// Step 4: gives buffer `id` back. Visible to the kernel after the next `publish()`.
    @inline(__always)
    public func recycle(_ id: UInt16) {
        io_uring_buf_ring_add(entries, bytes(of: id), UInt32(bufferSize), id, mask, pendingRecycles)
        let position = nextPosition & UInt16(truncatingIfNeeded: mask)
        idAtPosition[Int(position)] = id
        positionOfID[Int(id)] = position
        nextPosition &+= 1
        pendingRecycles += 1
        available += 1
    }

    /// Publishes all recycled buffers with one tail update. Returns whether any were published.
    @inline(__always) @discardableResult
    public func publish() -> Bool {
        guard pendingRecycles > 0 else { return false }
        io_uring_buf_ring_advance(entries, pendingRecycles)
        pendingRecycles = 0
        return true
    }
}
