// The errno policy, in one place: what a failed system call means and how it is reported.
//
// Everything that fails outside the hot path throws a SystemError that carries the call's name
// and the errno, so a message reads `io_uring_setup failed: EPERM (Operation not permitted)`.
// On the hot path, completions carry `-errno` in `res`; `CompletionError` classifies those
// without allocating: a peer going away, a cancel, a dry buffer group, running out of
// descriptors or memory, and a bug (EBADF, EFAULT, EINVAL). What to do about each is the
// caller's choice; the server closes the connection for a bug like for any other error.

#if canImport(Glibc)
    import Glibc
#endif

/// A failed system call: its name, the errno it returned, and what ringd was doing.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public let call: String
    public let errno: Int32
    public let context: String

    public init(_ call: String, errno: Int32, context: String = "") {
        self.call = call
        self.errno = errno
        self.context = context
    }

    /// `bind failed: EADDRINUSE (Address already in use) [127.0.0.1:7000]`
    public var description: String {
        var text = "\(call) failed: \(errnoName(errno)) (\(errnoText(errno)))"
        if !context.isEmpty { text += " [\(context)]" }
        return text
    }
}

/// Runs a libc call that returns -1 and sets errno, retrying EINTR.
@inline(__always)
public func retryingInterrupts(
    _ call: String, context: @autoclosure () -> String = "", _ body: () -> Int32
) throws(SystemError) -> Int32 {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw SystemError(call, errno: code, context: context())
    }
}

/// The symbolic name of an errno value, for messages a person can search for.
public func errnoName(_ code: Int32) -> String {
    switch code {
    case EPERM: "EPERM"
    case ENOENT: "ENOENT"
    case EINTR: "EINTR"
    case EBADF: "EBADF"
    case EAGAIN: "EAGAIN"
    case ENOMEM: "ENOMEM"
    case EACCES: "EACCES"
    case EFAULT: "EFAULT"
    case EBUSY: "EBUSY"
    case EEXIST: "EEXIST"
    case EINVAL: "EINVAL"
    case ENFILE: "ENFILE"
    case EMFILE: "EMFILE"
    case ENOSPC: "ENOSPC"
    case EPIPE: "EPIPE"
    case ENOSYS: "ENOSYS"
    case EOPNOTSUPP: "EOPNOTSUPP"
    case EADDRINUSE: "EADDRINUSE"
    case EADDRNOTAVAIL: "EADDRNOTAVAIL"
    case EAFNOSUPPORT: "EAFNOSUPPORT"
    case ENETUNREACH: "ENETUNREACH"
    case ECONNABORTED: "ECONNABORTED"
    case ECONNRESET: "ECONNRESET"
    case ENOBUFS: "ENOBUFS"
    case ENOTCONN: "ENOTCONN"
    case ETIMEDOUT: "ETIMEDOUT"
    case ECONNREFUSED: "ECONNREFUSED"
    case EINPROGRESS: "EINPROGRESS"
    case ECANCELED: "ECANCELED"
    case ETIME: "ETIME"
    case EALREADY: "EALREADY"
    default: "errno \(code)"
    }
}

/// The C library's text for an errno value.
public func errnoText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "unknown error" }
    return String(cString: text)
}

/// What a negative completion result means for the connection it belongs to.
public enum CompletionError: Equatable, Sendable {
    /// The peer went away (reset, broken pipe, timed out): close quietly, it is normal.
    case peerGone
    /// The operation was cancelled by us.
    case cancelled
    /// The provided-buffer group ran dry: recycle, then re-arm. Nothing was lost.
    case noBuffers
    /// Out of descriptors or memory: back off and retry later.
    case resourceExhausted
    /// A programming error (bad descriptor, bad address, invalid argument).
    case bug
    /// Anything else: close the connection and count it.
    case other

    @inline(__always)
    public init(errno code: Int32) {
        switch code {
        case ECONNRESET, EPIPE, ETIMEDOUT, ENOTCONN, ECONNABORTED, EHOSTUNREACH, ENETUNREACH, ENETDOWN:
            self = .peerGone
        case ECANCELED:
            self = .cancelled
        case ENOBUFS:
            self = .noBuffers
        case EMFILE, ENFILE, ENOMEM:
            self = .resourceExhausted
        case EBADF, EFAULT, EINVAL:
            self = .bug
        default:
            self = .other
        }
    }
}
