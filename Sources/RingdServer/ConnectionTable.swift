// ConnectionTable: a fixed-capacity table of connection slots, one per worker.
//
// The table is one anonymous mapping sized for `capacity` slots at start-up. Pages are only
// backed by memory when a slot is first used, so an idle server costs nothing per slot it never
// touched, and the table never grows or moves: a slot index is stable for the completion
// user data. An all-zero slot is a free, never-used slot, which is what the mapping starts as.
//
// Freed slots go on a free list threaded through the slots themselves; fresh slots come from a
// high-water mark. A slot's generation is bumped when it is freed, so completions that still
// name the previous occupant are recognised as stale (see UserData).

import URing

#if canImport(Glibc)
    import Glibc
#endif

/// One connection's state. Kept small: at 10,000 idle connections every byte here is 10 KB.
/// Service state that only some modes need (line framers, peers) lives in side tables.
struct Connection {
    var lifecycle: Lifecycle
    /// The multishot recv is armed: a completion without IORING_CQE_F_MORE is still to come.
    var receiveArmed: Bool
    /// A send is in flight. At most one, so bytes never reorder.
    var sendInFlight: Bool
    /// The peer shut down its write side (recv returned 0).
    var peerFinished: Bool
    /// The recv was stopped because too much output is queued (echo back-pressure).
    var receivePaused: Bool
    /// The recv ended with ENOBUFS; it is re-armed when buffers come back.
    var waitingForBuffers: Bool
    /// Raw echo: the client streams (a recv filled its whole limit), so its next recv reads
    /// into the bulk buffers (ReceiveBuffers.swift).
    var streams: Bool
    /// The armed recv reads into the bulk buffers (its completions are `.bulkReceive`).
    var receivesBulk: Bool
    /// When input last arrived (or lingering began), in the worker's coarse milliseconds.
    var lastActivity: UInt32
    /// When queued output last rose above `io.output_soft_cap` and has stayed there (push
    /// services); 0 while below it.
    var overSoftCapSince: UInt32
    var generation: UInt32
    var descriptor: Int32
    /// What waits to be sent.
    var queue: SendQueue
    /// Next free slot, while this one is on the free list.
    var nextFree: UInt32
    /// The slot is in the event loop's list of connections waiting for buffers. Survives the
    /// slot's reuse, so a slot is listed at most once and the list needs only `capacity` room.
    var listedAsWaiting: Bool
    /// Bulk reads in a row of less than a quarter of a bulk buffer (EventLoop+Receive.swift).
    var smallBulkReads: UInt8
}

final class ConnectionTable {
    let capacity: Int
    private let slots: UnsafeMutablePointer<Connection>
    private let mappingLength: Int
    /// Slots [0, highWater) have been used at least once.
    private(set) var highWater: UInt32 = 0
    private var freeHead: UInt32 = .max
    private(set) var openCount = 0

    init(capacity: Int) throws(SystemError) {
        precondition(capacity > 0 && UInt32(capacity) <= UserData.maximumSlot)
        self.capacity = capacity
        mappingLength = capacity * MemoryLayout<Connection>.stride
        guard let memory = mmap(nil, mappingLength, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE, -1, 0),
            memory != MAP_FAILED
        else { throw SystemError("mmap", errno: errno, context: "connection table of \(capacity) slots") }
        slots = memory.bindMemory(to: Connection.self, capacity: capacity)
    }

    /// Frees every slot at shutdown, after the ring is gone and nothing can complete.
    func releaseAllAfterShutdown() {
        for slot in 0..<highWater where slots[Int(slot)].lifecycle != .free {
            slots[Int(slot)].lifecycle = .free  // the ring is gone: no transition is left to check
            openCount -= 1
        }
    }

    deinit {
        assert(openCount == 0, "ConnectionTable released with \(openCount) connections open")
        munmap(slots, mappingLength)
    }

    /// Claims a free slot for `descriptor`, or nil when all `capacity` slots are taken.
    @inline(__always)
    func open(descriptor: Int32) -> UInt32? {
        let slot: UInt32
        if freeHead != .max {
            slot = freeHead
            freeHead = slots[Int(slot)].nextFree
        } else if highWater < UInt32(capacity) {
            slot = highWater
            highWater += 1
        } else {
            return nil
        }
        let connection = slots + Int(slot)
        assert(connection.pointee.lifecycle == .free)
        let generation = connection.pointee.generation
        let listedAsWaiting = connection.pointee.listedAsWaiting
        connection.pointee = Connection(
            lifecycle: .open, receiveArmed: false, sendInFlight: false, peerFinished: false,
            receivePaused: false, waitingForBuffers: false, streams: false, receivesBulk: false, lastActivity: 0,
            overSoftCapSince: 0, generation: generation,
            descriptor: descriptor, queue: SendQueue(), nextFree: .max, listedAsWaiting: listedAsWaiting, smallBulkReads: 0)
        openCount += 1
        return slot
    }

    /// Returns `slot` to the free list. Only after its last completion has arrived.
    @inline(__always)
    func release(_ slot: UInt32) {
        let connection = slots + Int(slot)
        assert(!connection.pointee.receiveArmed && !connection.pointee.sendInFlight)
        connection.pointee.move(to: .free)
        connection.pointee.descriptor = -1
        connection.pointee.generation &+= 1
        connection.pointee.nextFree = freeHead
        freeHead = slot
        openCount -= 1
    }

    /// The slot's connection, if `userData` names its current occupant; nil for a stale tag.
    @inline(__always)
    func live(_ userData: UserData) -> UnsafeMutablePointer<Connection>? {
        let slot = userData.slot
        guard slot < highWater else { return nil }
        let connection = slots + Int(slot)
        guard connection.pointee.lifecycle != .free, connection.pointee.generation == userData.generation else { return nil }
        return connection
    }

    @inline(__always)
    subscript(slot: UInt32) -> UnsafeMutablePointer<Connection> { slots + Int(slot) }

    /// Calls `body` with every slot that holds a connection, open or closing. For shutdown.
    func forEachHeld(_ body: (UInt32, UnsafeMutablePointer<Connection>) -> Void) {
        for slot in 0..<highWater where slots[Int(slot)].lifecycle != .free {
            body(slot, slots + Int(slot))
        }
    }

    /// Calls `body` with every connection held open (not free, not closing): the fan-outs,
    /// sweeps and scans. Inlined, so
    /// `body` is plain code in the caller's loop, with no closure context or call per slot.
    /// `body` may close the connection it is given.
    @inline(__always)
    func forEachOpen(_ body: (UInt32, UnsafeMutablePointer<Connection>) -> Void) {
        let end = highWater
        var slot: UInt32 = 0
        while slot < end {
            let connection = slots + Int(slot)
            if connection.pointee.lifecycle.isHeldOpen { body(slot, connection) }
            slot += 1
        }
    }
}
