// Ring: one io_uring instance, owned by exactly one thread.
//
// Set up with SINGLE_ISSUER | DEFER_TASKRUN (Linux 6.1) so completions are only produced when
// the owner asks for them, which batches task work into the owner's io_uring_enter. Where the
// kernel refuses that, COOP_TASKRUN (5.19), then plain flags. The completion queue is sized
// well above the submission queue so multishot operations rarely overflow it.
//
// The ring is built in three steps on the thread that will use it: `Ring(...)` creates it,
// the caller fills submissions, then drains completions. The contract is small on purpose
// (redis's ae.h): get a submission slot, submit and wait, read completions, advance.

import CUring

#if canImport(Glibc)
    import Glibc
#endif

/// Which task-running mode the kernel accepted for a ring.
public enum TaskRunMode: String, Sendable {
    /// SINGLE_ISSUER | DEFER_TASKRUN: completions are produced only inside our io_uring_enter.
    case deferred
    /// COOP_TASKRUN | TASKRUN_FLAG: no interrupting IPIs, task work runs on our next enter.
    case cooperative
    /// Neither flag was accepted.
    case plain
}

/// A completion queue entry, copied out of the ring so the slot can be released at once.
public struct Completion: Sendable {
    public let userData: UserData
    /// Bytes transferred or a new descriptor; `-errno` on failure.
    public let result: Int32
    public let flags: UInt32

    @inline(__always)
    init(_ cqe: UnsafeMutablePointer<io_uring_cqe>) {
        userData = UserData(rawValue: cqe.pointee.user_data)
        result = cqe.pointee.res
        flags = cqe.pointee.flags
    }

    /// IORING_CQE_F_MORE: the multishot operation stays armed and will complete again. When it
    /// is clear, the operation is over and must be re-armed if it is still wanted.
    @inline(__always) public var hasMore: Bool { flags & IORING_CQE_F_MORE != 0 }

    /// The provided buffer the kernel picked, when IORING_CQE_F_BUFFER is set.
    @inline(__always) public var bufferID: UInt16? {
        flags & IORING_CQE_F_BUFFER != 0 ? UInt16(truncatingIfNeeded: flags >> IORING_CQE_BUFFER_SHIFT) : nil
    }

    /// IORING_CQE_F_SOCK_NONEMPTY: more data was waiting in the socket after this recv.
    @inline(__always) public var socketHasMore: Bool { flags & IORING_CQE_F_SOCK_NONEMPTY != 0 }
}

/// One io_uring instance. Not thread-safe: exactly one thread submits and reaps.
public final class Ring {
    @usableFromInline let ring: UnsafeMutablePointer<io_uring>
    public let taskRunMode: TaskRunMode
    public let submissionEntries: UInt32
    public let completionEntries: UInt32
    public let features: UInt32
    private var isClosed = false

    /// Whether recv and send take IORING_RECVSEND_BUNDLE (Linux 6.10).
    public var supportsBundles: Bool { features & IORING_FEAT_RECVSEND_BUNDLE != 0 }

    /// Creates a ring with `submissionEntries` SQEs and at least `completionEntries` CQEs.
    /// Throws with the errno of io_uring_setup, so the caller can name the cause (EPERM from
    /// kernel.io_uring_disabled or seccomp, ENOSYS when the kernel lacks io_uring).
    public init(submissionEntries: UInt32, completionEntries: UInt32) throws(SystemError) {
        ring = .allocate(capacity: 1)
        ring.initialize(to: io_uring())
        let attempts: [(TaskRunMode, UInt32)] = [
            (.deferred, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN),
            (.cooperative, IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG),
            (.plain, 0),
        ]
        var lastError: Int32 = EINVAL
        for (mode, flags) in attempts {
            var params = io_uring_params()
            params.flags = flags | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL
            params.cq_entries = completionEntries
            let result = io_uring_queue_init_params(submissionEntries, ring, &params)
            if result == 0 {
                taskRunMode = mode
                self.submissionEntries = params.sq_entries
                self.completionEntries = params.cq_entries
                features = params.features
                return
            }
            lastError = -result
            // EINVAL means "this kernel does not know one of these flags": try fewer. Anything
            // else (EPERM, ENOSYS, ENOMEM) will not improve with other flags.
            if lastError != EINVAL { break }
        }
        ring.deinitialize(count: 1)
        ring.deallocate()
        isClosed = true
        throw SystemError("io_uring_setup", errno: lastError)
    }

    /// Tears the ring down; the kernel cancels whatever is still in flight.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        io_uring_queue_exit(ring)
        ring.deinitialize(count: 1)
        ring.deallocate()
    }

    deinit {
        precondition(isClosed, "Ring dropped without close(): its descriptor and mappings would leak")
    }

    /// The raw liburing handle, for registration calls in this module.
    var handle: UnsafeMutablePointer<io_uring> { ring }

    /// A free submission entry. When the queue is full, what is queued is submitted first; if
    /// the kernel refuses that submission outright (any errno but EINTR, EAGAIN or EBUSY), the
    /// process stops with a fatal error.
    @inline(__always)
    public func nextSubmission() -> UnsafeMutablePointer<io_uring_sqe> {
        if let sqe = io_uring_get_sqe(ring) { return sqe }
        return nextSubmissionAfterFlush()
    }

    @inline(never)
    private func nextSubmissionAfterFlush() -> UnsafeMutablePointer<io_uring_sqe> {
        while true {
            let submitted = io_uring_submit(ring)
            if submitted < 0 && submitted != -EINTR && submitted != -EAGAIN && submitted != -EBUSY {
                fatalError("io_uring_submit failed: \(errnoName(-submitted)) (\(errnoText(-submitted)))")
            }
            if let sqe = io_uring_get_sqe(ring) { return sqe }
            // EINTR, EAGAIN or EBUSY: the kernel took nothing this time. io_uring_get_events
            // enters it without waiting, so it can run pending task work and move parked
            // completions into the queue where there is room; nothing is reaped here.
            _ = io_uring_get_events(ring)
        }
    }

    /// Submits everything queued and waits until at least `minimumCompletions` are ready.
    /// EINTR is not an error: the caller's loop simply goes round again.
    @inline(__always)
    public func submitAndWait(_ minimumCompletions: UInt32 = 1) throws(SystemError) {
        let result = io_uring_submit_and_wait(ring, minimumCompletions)
        if result < 0 && result != -EINTR && result != -ETIME && result != -EBUSY && result != -EAGAIN {
            throw SystemError("io_uring_enter", errno: -result)
        }
    }

    /// Whether `submitAndWait(_:window:)` batches (Linux 6.12, IORING_FEAT_MIN_TIMEOUT).
    public var supportsBatchWait: Bool { features & RINGD_FEAT_MIN_TIMEOUT != 0 }

    /// As `submitAndWait`, but once one completion is ready it waits up to `window` for
    /// `minimumCompletions` in all, so a loop under load handles more completions per wake-up.
    /// Unlike a plain wait, it returns after the window even with nothing ready.
    @inline(__always)
    public func submitAndWait(_ minimumCompletions: UInt32, window: Duration) throws(SystemError) {
        let microseconds = UInt32(
            clamping: window.components.seconds * 1_000_000 + window.components.attoseconds / 1_000_000_000_000)
        let result = ringd_submit_and_wait_batch(ring, minimumCompletions, microseconds)
        if result < 0 && result != -EINTR && result != -ETIME && result != -EBUSY && result != -EAGAIN {
            throw SystemError("io_uring_enter", errno: -result)
        }
    }

    /// Submits everything queued without waiting.
    public func submit() throws(SystemError) {
        let result = io_uring_submit(ring)
        if result < 0 && result != -EINTR && result != -EBUSY && result != -EAGAIN {
            throw SystemError("io_uring_submit", errno: -result)
        }
    }

    /// How many completions are ready to read.
    @inline(__always) public var readyCompletions: UInt32 { io_uring_cq_ready(ring) }

    /// The ready completion `index` places past the head. Valid for index < readyCompletions.
    @inline(__always)
    public func completion(at index: UInt32) -> Completion {
        Completion(ringd_cqe_at(ring, index))
    }

    /// Releases `count` completions back to the kernel, once per batch.
    @inline(__always)
    public func advance(by count: UInt32) { io_uring_cq_advance(ring, count) }

    /// Hands every ready completion to `body`, in order, then releases them all with one
    /// advance. `body` only queues submissions; it must not wait on the ring. Inlined, so
    /// `body` is plain code in the caller's loop, with no closure context per completion.
    @inlinable @inline(__always)
    public func drainCompletions(_ body: (Completion) -> Void) {
        let ready = readyCompletions
        var position: UInt32 = 0
        while position < ready {
            body(completion(at: position))
            position += 1
        }
        advance(by: ready)
    }

    /// Whether the kernel had to park completions because the queue was full. It keeps them
    /// (IORING_FEAT_NODROP, required at set-up) and hands them over as the queue drains.
    public var hasOverflow: Bool { io_uring_cq_has_overflow(ring) }

    /// Completions the kernel dropped because it could not even park them (out of memory);
    /// zero unless something is badly wrong.
    public var droppedCompletions: UInt32 { ring.pointee.cq.koverflow.pointee }

    /// The ring's own descriptor, the target of IORING_OP_MSG_RING from other rings.
    public var descriptor: Int32 { ring.pointee.ring_fd }
}
