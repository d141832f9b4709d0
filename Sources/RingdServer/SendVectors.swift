// SendVectors: one sendmsg header and iovec array per connection slot, for gathered sends.
//
// A connection with several buffers or spans queued sends them in one sendmsg instead of one
// send each (`io.send_gather` parts at most): a 200 KB echo that arrived in fifty 4 KiB receive
// buffers leaves in a few calls, and the peer sees a few large segments rather than fifty small
// ones, each with its wake-up and ACK. One send is in flight per connection, so one header per
// slot suffices, and it stays untouched until that send completes.
//
// The table is mapped MAP_NORESERVE, like the connection table: a slot's page is touched only
// when its connection first gathers, so idle connections cost no memory here.

import URing

#if canImport(Glibc)
    import Glibc
#endif

final class SendVectors {
    /// The most parts one send gathers.
    let limit: Int
    private let capacity: Int
    private let stride: Int
    /// Where a slot's iovecs start, after its header (kept 16-byte aligned).
    private let headerLength = (MemoryLayout<msghdr>.stride + 15) & ~15
    private let memory: UnsafeMutableRawPointer
    private let mappingLength: Int

    /// Vectors for `capacity` slots of `limit` parts each; with `limit` 1 nothing is mapped and
    /// every send is a plain send of the head.
    init(capacity: Int, limit: Int) throws(SystemError) {
        precondition(limit >= 1 && limit <= Int(UIO_MAXIOV))
        self.capacity = capacity
        self.limit = limit
        stride = limit > 1 ? headerLength + limit * MemoryLayout<iovec>.stride : 0
        mappingLength = max(capacity * stride, 1)
        guard let mapped = mmap(nil, mappingLength, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE, -1, 0),
            mapped != MAP_FAILED
        else { throw SystemError("mmap", errno: errno, context: "send vectors for \(capacity) slots") }
        memory = mapped
    }

    deinit { munmap(memory, mappingLength) }

    /// The iovecs of `slot`, `limit` of them.
    @inline(__always)
    func parts(of slot: UInt32) -> UnsafeMutablePointer<iovec> {
        (memory + Int(slot) * stride + headerLength).assumingMemoryBound(to: iovec.self)
    }

    /// The header of `slot`, set to send its first `count` parts.
    @inline(__always)
    func message(of slot: UInt32, count: Int) -> UnsafeMutablePointer<msghdr> {
        let header = (memory + Int(slot) * stride).assumingMemoryBound(to: msghdr.self)
        header.pointee = msghdr(
            msg_name: nil, msg_namelen: 0, msg_iov: parts(of: slot), msg_iovlen: count, msg_control: nil, msg_controllen: 0,
            msg_flags: 0)
        return header
    }
}
