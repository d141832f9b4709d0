// KernelSupport: what the running kernel can do, asked once at start-up.
//
// Flags unknown to a kernel make io_uring_setup fail with EINVAL, but a multishot recv on a
// kernel before 6.0 is accepted and then fails per request. So ringd checks the release and
// the opcodes it needs before starting workers, and reports what is missing and how to fix it.

import CUring

#if canImport(Glibc)
    import Glibc
#endif

public enum KernelSupport {
    /// The kernel release as (major, minor), from uname(2).
    public static func release() -> (major: Int, minor: Int, text: String) {
        var name = utsname()
        uname(&name)
        let text = withUnsafeBytes(of: &name.release) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        let numbers = text.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        return (numbers.first ?? 0, numbers.count > 1 ? numbers[1] : 0, text)
    }

    /// Multishot recv with provided buffer rings arrived in Linux 6.0.
    public static let minimumRelease = (major: 6, minor: 0)

    /// Opcodes ringd issues, with the name used in messages.
    static let requiredOperations: [(UInt32, String)] = [
        (UInt32(IORING_OP_ACCEPT.rawValue), "IORING_OP_ACCEPT"),
        (UInt32(IORING_OP_RECV.rawValue), "IORING_OP_RECV"),
        (UInt32(IORING_OP_SEND.rawValue), "IORING_OP_SEND"),
        (UInt32(IORING_OP_SENDMSG.rawValue), "IORING_OP_SENDMSG"),
        (UInt32(IORING_OP_CLOSE.rawValue), "IORING_OP_CLOSE"),
        (UInt32(IORING_OP_SHUTDOWN.rawValue), "IORING_OP_SHUTDOWN"),
        (UInt32(IORING_OP_ASYNC_CANCEL.rawValue), "IORING_OP_ASYNC_CANCEL"),
        (UInt32(IORING_OP_POLL_ADD.rawValue), "IORING_OP_POLL_ADD"),
        (UInt32(IORING_OP_TIMEOUT.rawValue), "IORING_OP_TIMEOUT"),
        (UInt32(IORING_OP_MSG_RING.rawValue), "IORING_OP_MSG_RING"),
    ]

    /// The first required opcode the ring does not support, or nil when all are there.
    public static func missingOperation(on ring: Ring) -> String? {
        // Without NODROP (Linux 5.5) a full completion queue would lose completions, and with
        // them buffers, sends and closes; with it the kernel parks them until there is room.
        guard ring.features & UInt32(IORING_FEAT_NODROP) != 0 else { return "IORING_FEAT_NODROP" }
        guard let probe = io_uring_get_probe_ring(ring.handle) else { return "io_uring probe (IORING_REGISTER_PROBE)" }
        defer { io_uring_free_probe(probe) }
        for (opcode, name) in requiredOperations where io_uring_opcode_supported(probe, Int32(opcode)) == 0 {
            return name
        }
        return nil
    }
}

extension KernelSupport {
    /// Whether a multishot recv bundle takes a total limit (the SQE's `optlen`, newer than the
    /// bundles of 6.10), so that a request ends after that many bytes. Asked once, on a
    /// throwaway ring: a Unix socket pair holds two bytes and a recv limited to one is queued.
    /// A kernel with the limit answers one byte and ends the request; one without it refuses
    /// the field (EINVAL) or ignores it and reads both, the request still armed.
    public static let receiveLimit: Bool = probeReceiveLimit()

    private static func probeReceiveLimit() -> Bool {
        guard let ring = try? Ring(submissionEntries: 4, completionEntries: 8) else { return false }
        defer { ring.close() }
        guard ring.supportsBundles, let buffers = try? ProvidedBufferRing(ring: ring, group: 0, count: 2, bufferSize: 64)
        else { return false }
        defer { buffers.close() }
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else { return false }
        defer {
            Glibc.close(pair[0])
            Glibc.close(pair[1])
        }
        let twoBytes: [UInt8] = [1, 2]
        guard write(pair[0], twoBytes, 2) == 2 else { return false }
        ring.queueMultishotReceiveBundle(socket: pair[1], group: 0, limit: 1, userData: UserData(rawValue: 1))
        guard (try? ring.submitAndWait(1)) != nil else { return false }
        var first: Completion?
        ring.drainCompletions { completion in
            if first == nil { first = completion }
        }
        guard let first else { return false }
        return first.result == 1 && !first.hasMore
    }
}
