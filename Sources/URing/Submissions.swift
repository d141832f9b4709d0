// Submission helpers: one function per operation ringd issues, each filling one SQE.
//
// Each helper takes the user data the completion will carry; none of them submits. The event
// loop queues what its handlers decide, then submits the whole batch once per iteration.

import CUring

#if canImport(Glibc)
    import Glibc
#endif

extension Ring {
    /// Multishot accept (Linux 5.19): one SQE, one completion per accepted connection, for as
    /// long as IORING_CQE_F_MORE stays set. New descriptors are close-on-exec.
    @inline(__always)
    public func queueMultishotAccept(listener: Int32, userData: UserData) {
        let sqe = nextSubmission()
        io_uring_prep_multishot_accept(sqe, listener, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// Multishot recv (Linux 6.0): every completion carries one buffer picked by the kernel
    /// from provided-buffer `group`. Ends with IORING_CQE_F_MORE clear on EOF, on error, and
    /// with ENOBUFS when the group runs dry.
    @inline(__always)
    public func queueMultishotReceive(socket: Int32, group: UInt16, userData: UserData) {
        let sqe = nextSubmission()
        io_uring_prep_recv_multishot(sqe, socket, nil, 0, 0)
        ringd_sqe_select_buffer(sqe, group)
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// Multishot recv in bundles (Linux 6.10, IORING_FEAT_RECVSEND_BUNDLE): as
    /// `queueMultishotReceive`, but one completion may fill several consecutive buffers of the
    /// ring (`ProvidedBufferRing.buffer(_:after:)` names them), so a large read is one completion.
    /// With a `limit` (bytes; `KernelSupport.receiveLimit` says whether the kernel has it) the
    /// request ends once it has received that many, so the caller decides before each further
    /// `limit` bytes whether to take them.
    @inline(__always)
    public func queueMultishotReceiveBundle(socket: Int32, group: UInt16, limit: UInt32 = 0, userData: UserData) {
        let sqe = nextSubmission()
        ringd_prep_recv_multishot_bundle(sqe, socket, group, limit)
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// A send of `length` bytes at `bytes`. MSG_NOSIGNAL turns a write to a closed peer into
    /// EPIPE instead of SIGPIPE. The memory must stay valid until the completion arrives.
    @inline(__always)
    public func queueSend(socket: Int32, bytes: UnsafeRawPointer, length: Int, userData: UserData) {
        let sqe = nextSubmission()
        io_uring_prep_send(sqe, socket, bytes, length, Int32(MSG_NOSIGNAL))
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// A gathered send: sendmsg(2) of the iovecs `message` points to, in order, as one call, so
    /// a queue of many small buffers leaves in one call instead of one send each. The header,
    /// the iovecs and the bytes they point to must stay valid until the completion arrives.
    @inline(__always)
    public func queueSendMessage(socket: Int32, message: UnsafePointer<msghdr>, userData: UserData) {
        let sqe = nextSubmission()
        io_uring_prep_sendmsg(sqe, socket, message, UInt32(MSG_NOSIGNAL))
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// A send followed, in the same chain, by a close of the socket: send-and-close in two SQEs.
    /// MSG_WAITALL makes the kernel finish a short send before the close runs, so the peer gets
    /// every byte and then a FIN. The send reports only a failure; a failed send cancels the close
    /// (it then completes with -ECANCELED and the descriptor is still open). The close reports
    /// only a failure when `quietClose`, and always otherwise (the caller then learns when the
    /// memory at `bytes` is free again).
    @inline(__always)
    public func queueSendThenClose(
        socket: Int32, bytes: UnsafeRawPointer, length: Int, sendUserData: UserData,
        closeUserData: UserData, quietClose: Bool
    ) {
        let send = nextSubmission()
        io_uring_prep_send(send, socket, bytes, length, Int32(MSG_NOSIGNAL | MSG_WAITALL))
        io_uring_sqe_set_data64(send, sendUserData.rawValue)
        io_uring_sqe_set_flags(send, UInt32(RINGD_IOSQE_IO_LINK | RINGD_IOSQE_CQE_SKIP_SUCCESS))
        let close = nextSubmission()
        io_uring_prep_close(close, socket)
        io_uring_sqe_set_data64(close, closeUserData.rawValue)
        if quietClose { io_uring_sqe_set_flags(close, UInt32(RINGD_IOSQE_CQE_SKIP_SUCCESS)) }
    }

    /// A one-shot recv of at most `length` bytes into `bytes` (the caller's own buffer, not a
    /// provided one). The memory must stay valid until the completion arrives.
    @inline(__always)
    public func queueReceive(socket: Int32, into bytes: UnsafeMutableRawPointer, length: Int, userData: UserData) {
        let sqe = nextSubmission()
        io_uring_prep_recv(sqe, socket, bytes, length, 0)
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// connect(2) of `socket` to the address at `address`, given up after `limit` (a linked
    /// timeout: the connect then completes with -ECANCELED). The address must stay valid until
    /// the completion arrives, the timespec (entry `index` of `storage`) until the SQE is
    /// submitted. The timeout's own completion carries `timeoutUserData`.
    @inline(__always)
    public func queueConnect(
        socket: Int32, address: UnsafePointer<sockaddr>, length: socklen_t, userData: UserData,
        limit: Duration, storage: TimeoutStorage, index: Int, timeoutUserData: UserData
    ) {
        let connect = nextSubmission()
        io_uring_prep_connect(connect, socket, address, length)
        io_uring_sqe_set_data64(connect, userData.rawValue)
        io_uring_sqe_set_flags(connect, UInt32(RINGD_IOSQE_IO_LINK))
        let timespec = storage.entries + index
        timespec.pointee = __kernel_timespec(limit)
        let timeout = nextSubmission()
        io_uring_prep_link_timeout(timeout, timespec, 0)
        io_uring_sqe_set_data64(timeout, timeoutUserData.rawValue)
    }

    /// shutdown(2) of the write side: the peer gets a FIN after the bytes already sent.
    @inline(__always)
    public func queueShutdownWrite(socket: Int32, userData: UserData) {
        let sqe = nextSubmission()
        io_uring_prep_shutdown(sqe, socket, Int32(SHUT_WR))
        io_uring_sqe_set_data64(sqe, userData.rawValue)
        io_uring_sqe_set_flags(sqe, UInt32(RINGD_IOSQE_CQE_SKIP_SUCCESS))
    }

    /// Closes a descriptor through the ring. With `quiet`, only a failure produces a completion.
    @inline(__always)
    public func queueClose(descriptor: Int32, userData: UserData, quiet: Bool) {
        let sqe = nextSubmission()
        io_uring_prep_close(sqe, descriptor)
        io_uring_sqe_set_data64(sqe, userData.rawValue)
        if quiet { io_uring_sqe_set_flags(sqe, UInt32(RINGD_IOSQE_CQE_SKIP_SUCCESS)) }
    }

    /// Cancels every request in flight on `descriptor` (Linux 5.19). Each cancelled request
    /// completes with -ECANCELED; this request completes with the number cancelled.
    @inline(__always)
    public func queueCancelAll(descriptor: Int32, userData: UserData) {
        let sqe = nextSubmission()
        io_uring_prep_cancel_fd(sqe, descriptor, UInt32(IORING_ASYNC_CANCEL_ALL))
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// Cancels the one request whose user data is `target`.
    @inline(__always)
    public func queueCancel(target: UserData, userData: UserData) {
        let sqe = nextSubmission()
        io_uring_prep_cancel64(sqe, target.rawValue, 0)
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// A one-shot poll for `events` on `descriptor`.
    @inline(__always)
    public func queuePoll(descriptor: Int32, events: UInt32, userData: UserData) {
        let sqe = nextSubmission()
        io_uring_prep_poll_add(sqe, descriptor, events)
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// A timeout that completes with -ETIME after `interval`. Its timespec lives in entry
    /// `index` of `storage`, which must stay valid until the SQE is submitted.
    @inline(__always)
    public func queueTimeout(after interval: Duration, storage: TimeoutStorage, index: Int, userData: UserData) {
        let timespec = storage.entries + index
        timespec.pointee = __kernel_timespec(interval)
        let sqe = nextSubmission()
        io_uring_prep_timeout(sqe, timespec, 0, 0)
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// A timeout that completes with -ETIME and IORING_CQE_F_MORE every `interval` until
    /// cancelled (IORING_TIMEOUT_MULTISHOT, Linux 6.4). Its timespec lives in entry `index` of
    /// `storage` until the SQE is submitted.
    @inline(__always)
    public func queueRepeatingTimeout(every interval: Duration, storage: TimeoutStorage, index: Int, userData: UserData) {
        let timespec = storage.entries + index
        timespec.pointee = __kernel_timespec(interval)
        let sqe = nextSubmission()
        ringd_prep_timeout_multishot(sqe, timespec)
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// Posts a completion carrying `userData` and `value` (as its result) to another ring
    /// (IORING_OP_MSG_RING, Linux 5.18): the cross-worker wake-up that needs no lock and no
    /// eventfd. This ring sees a completion tagged `failureUserData` only if the post failed.
    @inline(__always)
    public func queueMessage(toRing target: Int32, value: UInt32, userData: UserData, failureUserData: UserData) {
        let sqe = nextSubmission()
        io_uring_prep_msg_ring(sqe, target, value, userData.rawValue, 0)
        io_uring_sqe_set_data64(sqe, failureUserData.rawValue)
        io_uring_sqe_set_flags(sqe, UInt32(RINGD_IOSQE_CQE_SKIP_SUCCESS))
    }
}

/// Memory for the timespecs of timeouts. The kernel reads a timespec when the SQE is
/// submitted, so each pending timeout needs its own entry until then.
public struct TimeoutStorage {
    let entries: UnsafeMutablePointer<__kernel_timespec>
    public let count: Int

    public init(count: Int) {
        self.count = count
        entries = .allocate(capacity: count)
        entries.initialize(repeating: __kernel_timespec(), count: count)
    }

    public func deallocate() { entries.deallocate() }
}

extension __kernel_timespec {
    /// The kernel's timespec for a Swift Duration.
    public init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: seconds, tv_nsec: attoseconds / 1_000_000_000)
    }
}
