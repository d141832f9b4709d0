// writeAll: the one short-write loop, for logs and terminal output.

#if canImport(Glibc)
    import Glibc
#endif

/// Writes all of `bytes` to `descriptor`, retrying short writes and EINTR. Gives up quietly on
/// an error: it serves logs and terminal output, and a reader that is gone must not stop the
/// writer. A full nonblocking descriptor (EAGAIN) is an error too, unless `waitingWhenFull`:
/// then it waits for room with poll(2), a second at a time. ring-client's `talk` waits, so that
/// no byte from the server is lost when its stdout happens to be nonblocking; ringd's workers
/// write the access log and must never wait on stdout, so they give up.
public func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, waitingWhenFull: Bool = false) {
    var written = 0
    while written < bytes.count {
        let result = write(descriptor, bytes.baseAddress! + written, bytes.count - written)
        if result > 0 {
            written += result
        } else if result < 0 && errno == EINTR {
            continue
        } else if result < 0 && errno == EAGAIN && waitingWhenFull {
            var entry = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
            _ = poll(&entry, 1, 1000)
        } else {
            return
        }
    }
}
