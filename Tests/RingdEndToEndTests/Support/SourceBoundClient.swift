// A client connecting from a chosen local address, such as 127.0.0.2: the whole 127.0.0.0/8
// range is loopback on Linux, so one machine has clients an access list tells apart without
// IPv6. The client only connects and reads until ringd ends the connection, which is all a
// refused client gets to do.
import Glibc

enum SourceBoundClient {
    /// Connects from `source` (an IPv4 address, any port) to `endpoint`, sends nothing, and
    /// reads until ringd ends the connection. Returns what was received and how it ended; fails
    /// if the connection is still open after `timeout`.
    static func connectAndReadToEnd(
        from source: String, to endpoint: Endpoint, timeout: Duration = .seconds(10)
    ) throws -> (bytes: [UInt8], end: ConnectionEnd) {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let descriptor = socket(AF_INET, type, 0)
        guard descriptor >= 0 else { throw HarnessFailure("socket: \(errnoName(errno))") }
        defer { close(descriptor) }
        let bound = try Endpoint(host: source, port: 0).withSocketAddress { bind(descriptor, $0, $1) }
        guard bound == 0 else { throw HarnessFailure("bind to \(source): \(errnoName(errno))") }
        let connected = try endpoint.withSocketAddress { connect(descriptor, $0, $1) }
        guard connected == 0 || errno == EINPROGRESS else {
            throw HarnessFailure("connect from \(source) to \(endpoint): \(errnoName(errno))")
        }

        let deadline = Deadline(after: timeout)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, deadline.remainingMilliseconds)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else {
                throw HarnessFailure(
                    "the connection from \(source) to \(endpoint) was still open after \(timeout); "
                        + "received \(quoted(received))")
            }
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received.append(contentsOf: buffer[..<count])
            } else if count == 0 {
                return (received, .endOfStream)
            } else if errno == ECONNRESET || errno == EPIPE {
                return (received, .reset(errno))
            } else if errno != EINTR && errno != EAGAIN {
                throw HarnessFailure("recv from \(endpoint) (from \(source)): \(errnoName(errno))")
            }
        }
    }
}
