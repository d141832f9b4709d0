// WorkerGroup: the little the workers share, and how they reach each other with no lock on a
// connection's path.
//
// - `connectionNumbers`: counter mode's number, one relaxed fetch-add per connection. An atomic
//   read-modify-write hands every connection a distinct value, so N connections get exactly
//   0..<N across all workers, whatever the interleaving.
// - `clients`: the connections open in broadcast and relay modes, for `{clients}`.
// - The arenas: every worker's OutputArena, made here so that they outlive every worker (a
//   relayed span of worker A's arena may be in a send on worker B's ring until B stops).
// - The ring descriptors, for IORING_OP_MSG_RING, and one relay inbox per ordered pair.
// - `relayDirectory`: every relay client's name and where it is, behind a lock taken when a relay
//   client connects or leaves and for /nick, /msg and /who (never for a chat line), so that a
//   name is unique across workers and /who and /msg see every client.
//
// Relay lines cross workers through RelayInbox: a single-producer, single-consumer ring of
// posts, each a span for every client of the receiving worker or for one of them (a /msg).
// Order is the inbox's order, so lines from one sender reach every receiver in the order sent,
// private ones among them; the MSG_RING that follows a batch is only a doorbell (it carries no
// data, and the kernel does not promise that two messages arrive in the order they were sent).

import CLinux
import RingdConfig
import RingdServices
import Synchronization
import URing

#if canImport(Glibc)
    import Glibc
#endif

final class WorkerGroup: @unchecked Sendable {
    let workerCount: Int
    let clients = Atomic<Int>(0)
    /// Workers whose loop has not finished; the main thread waits for zero.
    let runningWorkers: Atomic<Int>
    /// How many arenas are low (`OutputArena.isLow`); each owner adds and removes its own as
    /// that changes, rarely. Relayed output pins the sender's arena, so every worker checks it.
    let arenasLow = Atomic<Int>(0)
    let arenas: [OutputArena]
    private let arenaBases: UnsafeMutablePointer<UnsafeMutableRawPointer>
    /// Every arena's geometry (they are all the same).
    let chunkSize: Int
    let chunkCount: Int
    /// Written by worker i before it reports start-up to the latch; read only after the latch
    /// has released every worker (its mutex orders the two).
    private let ringDescriptors: UnsafeMutablePointer<Int32>
    /// Inbox for lines from worker `source` to worker `target` at `source * workerCount + target`.
    private let inboxes: [RelayInbox]
    /// Every relay client's name, unique across workers, and where the client is.
    let relayDirectory: SharedRelayDirectory
    /// The counter mode's numbers: one process-wide count, so N connections get 0..<N.
    let connectionNumbers = SharedConnectionNumbers()
    /// Each worker's statistics as it last published them, for any thread to read.
    let statistics: [PublishedStatistics]
    /// One eventfd per worker, written when SIGHUP published a new configuration.
    private let reloadDescriptors: [Int32]
    /// Written once, never read, when a new process took over the listeners: every worker's
    /// poll on it fires, and each stops accepting and serves its connections out.
    let handOverSignal: Int32
    /// Workers that have stopped accepting after `handOverSignal` (or were stopping anyway).
    let workersHandedOver = Atomic<Int>(0)
    /// Written once, never read, when this process has taken over listeners and the old one
    /// has stopped accepting: each worker arms its accepts again (see `rearmAccepts`).
    let rearmSignal: Int32
    /// The configuration SIGHUP published, under `publishedLock`. Read by a worker only after
    /// its eventfd fired, so the lock is taken once per reload, never on a connection's path.
    /// A pthread mutex rather than Synchronization's `Mutex`: on Linux that one hands a
    /// contended lock over inside the kernel (a priority-inheritance futex), where
    /// ThreadSanitizer cannot see the ordering, and reports a race that is not there.
    private var publishedLock = pthread_mutex_t()
    private var published: Configuration?

    init(workerCount: Int, configuration: Configuration, relayInboxes: Bool) throws(SystemError) {
        self.workerCount = workerCount
        runningWorkers = Atomic(workerCount)
        // Room for the first 1,024 relay clients of each worker; other modes leave it empty.
        relayDirectory = SharedRelayDirectory(reservingFor: relayInboxes ? 1024 * workerCount : 0)
        statistics = (0..<workerCount).map { _ in PublishedStatistics() }
        let chunkSize = configuration.outputChunkSize
        let chunkCount = max(4, configuration.io.outputMemory / chunkSize)
        var arenas: [OutputArena] = []
        do throws(SystemError) {
            for worker in 0..<workerCount {
                arenas.append(try OutputArena(owner: worker, chunkSize: chunkSize, chunkCount: chunkCount))
            }
        } catch {
            arenas.forEach { $0.close() }
            throw error
        }
        self.arenas = arenas
        self.chunkSize = chunkSize
        self.chunkCount = chunkCount
        arenaBases = .allocate(capacity: workerCount)
        for (worker, arena) in arenas.enumerated() { (arenaBases + worker).initialize(to: arena.base) }
        ringDescriptors = .allocate(capacity: workerCount)
        ringDescriptors.initialize(repeating: -1, count: workerCount)
        let pairs = relayInboxes && workerCount > 1 ? workerCount * workerCount : 0
        inboxes = (0..<pairs).map { _ in RelayInbox(capacity: RelayInbox.defaultCapacity) }
        var reloadDescriptors: [Int32] = []
        for _ in 0..<workerCount {
            let descriptor = ringd_eventfd()
            guard descriptor >= 0 else {
                let error = errno
                reloadDescriptors.forEach { _ = Glibc.close($0) }
                arenas.forEach { $0.close() }
                throw SystemError("eventfd", errno: error)
            }
            _ = fcntl(descriptor, F_SETFL, O_NONBLOCK)  // a spurious wake-up must not block the worker
            reloadDescriptors.append(descriptor)
        }
        self.reloadDescriptors = reloadDescriptors
        handOverSignal = ringd_eventfd()
        rearmSignal = ringd_eventfd()
        guard handOverSignal >= 0 && rearmSignal >= 0 else {
            let error = errno
            [handOverSignal, rearmSignal].filter { $0 >= 0 }.forEach { _ = Glibc.close($0) }
            reloadDescriptors.forEach { _ = Glibc.close($0) }
            arenas.forEach { $0.close() }
            throw SystemError("eventfd", errno: error)
        }
        pthread_mutex_init(&publishedLock, nil)
    }

    /// Hands a reloaded configuration to every worker.
    func publish(_ configuration: Configuration) {
        pthread_mutex_lock(&publishedLock)
        published = configuration
        pthread_mutex_unlock(&publishedLock)
        var one: UInt64 = 1
        for descriptor in reloadDescriptors { _ = write(descriptor, &one, MemoryLayout<UInt64>.size) }
    }

    var publishedConfiguration: Configuration? {
        pthread_mutex_lock(&publishedLock)
        defer { pthread_mutex_unlock(&publishedLock) }
        return published
    }

    @inline(__always)
    func reloadDescriptor(of worker: Int) -> Int32 { reloadDescriptors[worker] }

    /// Empties worker `worker`'s eventfd, so its next poll waits for the next reload.
    func acknowledgeReload(of worker: Int) {
        var value: UInt64 = 0
        _ = read(reloadDescriptors[worker], &value, MemoryLayout<UInt64>.size)
    }

    /// Unmaps the arenas and closes the eventfds; after every worker thread has been joined.
    func close() {
        arenas.forEach { $0.close() }
        reloadDescriptors.forEach { _ = Glibc.close($0) }
        _ = Glibc.close(handOverSignal)
        _ = Glibc.close(rearmSignal)
    }

    deinit {
        pthread_mutex_destroy(&publishedLock)
        arenaBases.deallocate()
        ringDescriptors.deallocate()
    }

    func register(ring descriptor: Int32, of worker: Int) {
        ringDescriptors[worker] = descriptor
    }

    @inline(__always)
    func ringDescriptor(of worker: Int) -> Int32 { ringDescriptors[worker] }

    @inline(__always)
    func inbox(from source: Int, to target: Int) -> RelayInbox {
        inboxes[source * workerCount + target]
    }

    /// The bytes of `span`, in whichever worker's arena it lies. Every arena has the same
    /// geometry, so the global chunk id indexes one table of bases (no class reference is
    /// touched, so no reference counting on the send path).
    @inline(__always)
    func bytes(of span: OutputSpan) -> UnsafeRawPointer {
        let owner = Int(span.chunk) / chunkCount
        let index = Int(span.chunk) % chunkCount
        return UnsafeRawPointer(arenaBases[owner] + index * chunkSize + Int(span.offset))
    }
}

/// The counter's numbers, shared by every worker's CounterService.
final class SharedConnectionNumbers: ConnectionNumbers, @unchecked Sendable {
    // @unchecked: the one field is atomic.
    private let count = Atomic<UInt64>(0)

    func next() -> UInt64 { count.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// A span one worker posts to another: for every client there, or for the client numbered
/// `client` in slot `slot`, if that slot still holds it when the post is read.
struct Post: Equatable {
    /// The `slot` of a post to every client.
    static let everyClient: UInt32 = .max

    var span: OutputSpan
    var slot: UInt32
    var client: UInt64

    init(_ span: OutputSpan, toSlot slot: UInt32 = Post.everyClient, client: UInt64 = 0) {
        self.span = span
        self.slot = slot
        self.client = client
    }

    /// `next` goes to the same clients and its bytes follow these in the same chunk, so this
    /// post can grow to carry it.
    @inline(__always)
    func isContinued(by next: Post) -> Bool {
        slot == next.slot && client == next.client && span.chunk == next.span.chunk
            && span.offset + span.length == next.span.offset
    }
}

/// A single-producer, single-consumer queue of posts between two workers.
final class RelayInbox: @unchecked Sendable {
    /// Posts a worker can make to one other worker before it must wait for it. The producer
    /// merges spans for the same clients that continue each other in one chunk into one entry,
    /// so a full inbox means the consumer has left thousands of posts unread.
    static let defaultCapacity = 16384

    private let capacity: UInt32
    private let entries: UnsafeMutablePointer<Post>
    /// Next entry the consumer reads; written by the consumer only.
    private let head = Atomic<UInt32>(0)
    /// Next entry the producer writes; written by the producer only.
    private let tail = Atomic<UInt32>(0)

    init(capacity: Int) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "the inbox capacity is a power of two")
        self.capacity = UInt32(capacity)
        entries = .allocate(capacity: capacity)
    }

    deinit { entries.deallocate() }

    /// Producer: appends `post`; false when the inbox is full.
    @inline(__always)
    func push(_ post: Post) -> Bool {
        let position = tail.load(ordering: .relaxed)
        guard position &- head.load(ordering: .acquiring) < capacity else { return false }
        entries[Int(position & (capacity - 1))] = post
        tail.store(position &+ 1, ordering: .releasing)
        return true
    }

    /// Consumer: the next post, or nil when the inbox is empty.
    @inline(__always)
    func pop() -> Post? {
        let position = head.load(ordering: .relaxed)
        guard position != tail.load(ordering: .acquiring) else { return nil }
        let post = entries[Int(position & (capacity - 1))]
        head.store(position &+ 1, ordering: .releasing)
        return post
    }
}
