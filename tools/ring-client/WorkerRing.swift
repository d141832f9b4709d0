// WorkerRing: one benchmark worker's io_uring instance, its provided receive buffers, and the
// periodic tick that lets an idle worker notice the main thread's flags.
//
// Needs Linux 6.0 (multishot recv with a provided buffer ring) and prefers 6.1's
// SINGLE_ISSUER | DEFER_TASKRUN, both handled by the URing module. Connections are opened with a
// nonblocking connect(2) and waited for with a one-shot IORING_OP_POLL_ADD for POLLOUT.

#if canImport(Glibc)
import Glibc
#endif
import RingdSystem
import URing

/// What a completion is for: the low byte of its user data, shared by all benchmark workers.
enum WorkerOperation: UInt8 {
    /// A POLLOUT poll on a connecting socket; slot = connection index.
    case connectPoll = 1
    /// Multishot recv; slot = connection index, generation = the connection's life.
    case receive
    /// A send; slot and generation as for receive.
    case send
    /// The periodic tick (about 20 per second).
    case tick
    /// The open-loop schedule's wake-up for the next due request.
    case schedule
    /// A close through the ring; quiet, so only a failure completes.
    case close
}

/// The user data for `operation` on connection `slot` in its life `generation`.
@inline(__always)
func tag(_ operation: WorkerOperation, _ slot: Int, _ generation: UInt32) -> UserData {
    UserData(operation: operation.rawValue, slot: UInt32(truncatingIfNeeded: slot), generation: generation)
}

/// The fields of a worker's per-connection state that the shared paths (connecting, receiving,
/// closing) read and write. Workers keep their own state types; the helpers below are generic
/// over them and specialised, so no existential is involved.
protocol ReceivingConnection {
    var descriptor: Int32 { get set }
    var generation: UInt32 { get set }
    var isOpen: Bool { get set }
    var receiveArmed: Bool { get set }
}

/// Closes a connection at once (after an error, or when it is done). Its requests still in
/// flight complete later with a stale generation and are dropped; the shutdown wakes its
/// multishot recv so that one ends. Returns false if it was not open.
@discardableResult
func closeNow<Connection: ReceivingConnection>(_ connection: UnsafeMutablePointer<Connection>) -> Bool {
    guard connection.pointee.isOpen else { return false }
    connection.pointee.isOpen = false
    connection.pointee.generation &+= 1
    _ = shutdown(connection.pointee.descriptor, Int32(SHUT_RDWR))
    _ = close(connection.pointee.descriptor)
    connection.pointee.descriptor = -1
    return true
}

final class WorkerRing {
    let ring: Ring
    let buffers: ProvidedBufferRing
    let bufferGroup: UInt16 = 0
    /// Entry 0: the tick; entry 1: the schedule.
    private let timeouts = TimeoutStorage(count: 2)
    private var isClosed = false
    /// Whether a tick timeout is in flight; there is never more than one.
    private var tickPending = false
    /// Slots whose multishot recv ended with ENOBUFS, re-armed once buffers are published. A
    /// slot is listed at most once: its recv is not armed again until then.
    private let waiting: UnsafeMutablePointer<UInt32>
    private var waitingCount = 0

    static let tickInterval: Duration = .milliseconds(50)

    /// A ring sized for `connections` sockets. Receive buffers are `bufferSize` bytes; there are
    /// enough that a full batch of completions never runs the group dry (they are recycled in
    /// the batch that received them).
    init(connections: Int, bufferSize: Int) throws(ClientError) {
        let submissions = UInt32(min(4096, max(256, nextPowerOfTwo(connections * 2))))
        do {
            ring = try Ring(submissionEntries: submissions, completionEntries: submissions * 4)
        } catch {
            throw ClientError(ringFailureAdvice(error))
        }
        do {
            let count = min(32768, max(64, nextPowerOfTwo(connections * 2)))
            buffers = try ProvidedBufferRing(ring: ring, group: bufferGroup, count: count, bufferSize: bufferSize)
        } catch {
            ring.close()
            timeouts.deallocate()
            throw ClientError("\(error)")
        }
        waiting = .allocate(capacity: connections)
    }

    /// A worker's last step: the ring goes first, since closing it cancels the recvs and sends
    /// still in flight, and only then may their buffers be unmapped; then every descriptor
    /// still in `table`'s first `count` slots is closed.
    func tearDown<Connection: ReceivingConnection>(closing table: UnsafeMutablePointer<Connection>, count: Int) {
        close()
        for slot in 0..<count where table[slot].descriptor >= 0 {
            _ = Glibc.close(table[slot].descriptor)
            table[slot].descriptor = -1
        }
    }

    /// Closes the ring (which cancels whatever is in flight), then unmaps the buffers.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        ring.close()
        buffers.close()
        timeouts.deallocate()
        waiting.deallocate()
    }

    deinit { precondition(isClosed, "WorkerRing dropped without close()") }

    /// Arms a multishot recv on connection `slot` of `table`.
    @inline(__always)
    func armReceive<Connection: ReceivingConnection>(_ table: UnsafeMutablePointer<Connection>, _ slot: Int) {
        let connection = table + slot
        connection.pointee.receiveArmed = true
        ring.queueMultishotReceive(socket: connection.pointee.descriptor, group: bufferGroup,
                                   userData: tag(.receive, slot, connection.pointee.generation))
    }

    /// The first steps of every receive completion: the buffer it carries is taken from the
    /// group; a completion for a closed or reused slot gives its buffer straight back and
    /// yields nil; otherwise the connection is returned, with `receiveArmed` cleared when the
    /// multishot recv has ended. The caller recycles the buffer on every remaining path.
    @inline(__always)
    func liveReceiver<Connection: ReceivingConnection>(
        of completion: Completion, in table: UnsafeMutablePointer<Connection>
    ) -> UnsafeMutablePointer<Connection>? {
        let bufferID = completion.bufferID
        if let bufferID { buffers.take(bufferID) }
        let connection = table + Int(completion.userData.slot)
        guard connection.pointee.isOpen, connection.pointee.generation == completion.userData.generation else {
            if let bufferID { buffers.recycle(bufferID) }
            return nil
        }
        if !completion.hasMore { connection.pointee.receiveArmed = false }
        return connection
    }

    /// Connection `slot`'s recv ended with ENOBUFS: the group ran dry, the data waits in the
    /// socket, and the recv is armed again after the next publish (now would only fail again).
    @inline(__always)
    func waitForBuffers(_ slot: Int) {
        waiting[waitingCount] = UInt32(slot)
        waitingCount += 1
    }

    /// Once per batch: hands the buffers recycled in it back to the kernel, then re-arms the
    /// recvs of the open connections in `table` that were waiting for them.
    @inline(__always)
    func publishBuffers<Connection: ReceivingConnection>(rearming table: UnsafeMutablePointer<Connection>) {
        guard buffers.publish() && waitingCount > 0 else { return }
        for index in 0..<waitingCount {
            let slot = Int(waiting[index])
            if table[slot].isOpen && !table[slot].receiveArmed { armReceive(table, slot) }
        }
        waitingCount = 0
    }

    /// Arms the tick unless one is already in flight.
    func armTickIfIdle() {
        guard !tickPending else { return }
        tickPending = true
        ring.queueTimeout(after: WorkerRing.tickInterval, storage: timeouts, index: 0,
                          userData: UserData(operation: WorkerOperation.tick.rawValue, slot: 0, generation: 0))
    }

    /// The tick's completion arrived.
    func tickFired() { tickPending = false }

    @inline(__always)
    func armSchedule(after nanoseconds: UInt64) {
        ring.queueTimeout(after: .nanoseconds(Int64(min(nanoseconds, 1 << 62))), storage: timeouts, index: 1,
                          userData: UserData(operation: WorkerOperation.schedule.rawValue, slot: 0, generation: 0))
    }

    /// Opens `count` connections to `endpoint`, waits until every one is established, and
    /// records them in `table`'s first `count` slots as open; or throws naming the first that
    /// failed, with none left open. Source spreading uses `firstSourceIndex + i`.
    func connectAll<Connection: ReceivingConnection>(
        into table: UnsafeMutablePointer<Connection>, count: Int, to endpoint: SocketAddress, options: SocketOptions,
        firstSourceIndex: Int, timeout: Duration, control: RunControl
    ) throws(ClientError) {
        var descriptors = [Int32](repeating: -1, count: count)
        var pending = 0
        func closeAll() { for descriptor in descriptors where descriptor >= 0 { _ = Glibc.close(descriptor) } }
        for index in 0..<count {
            let descriptor: Int32
            do { descriptor = try ClientSocket.open(for: endpoint, options: options, sourceIndex: firstSourceIndex + index) }
            catch { closeAll(); throw error }
            descriptors[index] = descriptor
            let code = ClientSocket.startConnect(descriptor, to: endpoint)
            if code == EINPROGRESS {
                ring.queuePoll(descriptor: descriptor, events: UInt32(POLLOUT),
                               userData: UserData(operation: WorkerOperation.connectPoll.rawValue, slot: UInt32(index), generation: 0))
                pending += 1
            } else if code != 0 {
                closeAll()
                throw ClientError(connectFailure(code, endpoint))
            }
        }
        let deadline = monotonicNanoseconds() + timeout.nanoseconds
        armTickIfIdle()
        var failure: ClientError?
        while pending > 0 && failure == nil {
            do { try ring.submitAndWait(1) } catch { failure = ClientError("\(error)"); break }
            ring.drainCompletions { completion in
                switch WorkerOperation(rawValue: completion.userData.operation) {
                case .connectPoll:
                    pending -= 1
                    let code = ClientSocket.pendingError(descriptors[Int(completion.userData.slot)])
                    if code != 0 && failure == nil { failure = ClientError(connectFailure(code, endpoint)) }
                case .tick:
                    tickFired()
                    if monotonicNanoseconds() > deadline && failure == nil {
                        failure = ClientError("\(pending) of \(count) connections to \(endpoint) not established after \(formatDuration(timeout.nanoseconds))")
                    } else if control.stop.load(ordering: .relaxed) && failure == nil {
                        failure = ClientError("stopped while connecting")
                    } else {
                        armTickIfIdle()
                    }
                default:
                    break
                }
            }
        }
        if let failure {
            closeAll()
            throw failure
        }
        for (slot, descriptor) in descriptors.enumerated() {
            table[slot].descriptor = descriptor
            table[slot].isOpen = true
        }
    }
}

/// The sentence for a failed connect; a refusal says so in plain words.
func connectFailure(_ code: Int32, _ endpoint: SocketAddress) -> String {
    code == ECONNREFUSED
        ? "connection refused by \(endpoint) (nothing listens there?)"
        : "connect to \(endpoint) failed: \(errnoName(code)) (\(errnoText(code)))"
}

/// What to tell a user whose kernel or sandbox refuses io_uring.
func ringFailureAdvice(_ error: SystemError) -> String {
    switch error.errno {
    case EPERM: "\(error): io_uring is disabled here (sysctl kernel.io_uring_disabled, or a seccomp policy such as Docker's default)"
    case ENOSYS: "\(error): this kernel has no io_uring; the benchmarks need Linux 6.0 or later"
    case ENOMEM: "\(error): not enough locked memory for the ring (raise ulimit -l)"
    default: "\(error)"
    }
}

func nextPowerOfTwo(_ value: Int) -> Int {
    var power = 1
    while power < value { power <<= 1 }
    return power
}
