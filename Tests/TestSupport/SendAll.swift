// sendAll: the one loop that puts a whole buffer on a socket, for the tests' clients (blocking
// or not) and their small servers.
import Glibc

/// Sends all of `bytes` on `socket`: a short send is continued and EINTR retried; a full
/// nonblocking socket (EAGAIN) is waited on with poll(2), for at most `timeout` each time.
/// Throws naming the errno (EPIPE or ECONNRESET when `peer` is gone), or how much was left
/// when no room came. MSG_NOSIGNAL, so a peer that left is an error and not a SIGPIPE.
package func sendAll(_ socket: Int32, _ bytes: [UInt8], peer: String = "the peer", timeout: Duration = .seconds(20)) throws {
    var offset = 0
    while offset < bytes.count {
        let sent = bytes[offset...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if sent > 0 {
            offset += sent
        } else if sent == 0 {
            throw HarnessFailure("send to \(peer): sent nothing after \(offset) of \(bytes.count) bytes")
        } else if errno == EINTR {
            continue
        } else if errno == EAGAIN || errno == EWOULDBLOCK {
            guard try waitForRoom(socket, timeout: timeout) else {
                throw HarnessFailure("send to \(peer): no room for \(timeout) after \(offset) of \(bytes.count) bytes")
            }
        } else {
            throw HarnessFailure("send to \(peer): \(errnoName(errno))")
        }
    }
}

/// `text` as UTF-8, through `sendAll`.
package func sendAll(_ socket: Int32, _ text: String, peer: String = "the peer", timeout: Duration = .seconds(20)) throws {
    try sendAll(socket, Array(text.utf8), peer: peer, timeout: timeout)
}

/// Waits until `socket` can take more bytes; false after `timeout`.
private func waitForRoom(_ socket: Int32, timeout: Duration) throws -> Bool {
    let deadline = Deadline(after: timeout)
    var entry = pollfd(fd: socket, events: Int16(POLLOUT), revents: 0)
    while true {
        let ready = poll(&entry, 1, deadline.remainingMilliseconds)
        if ready > 0 { return true }
        if ready == 0 { return false }
        guard errno == EINTR else { throw HarnessFailure("poll: \(errnoName(errno))") }
    }
}
