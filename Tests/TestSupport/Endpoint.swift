// A numeric IPv4 or IPv6 address and TCP port, or a Unix socket's path, as ringd prints it and
// as connect(2) takes it.
import Glibc
import RingdSystem
import URing

package struct Endpoint: Hashable, CustomStringConvertible {
    /// The numeric host without brackets: `127.0.0.1` or `::1`; "" for a Unix socket.
    package let host: String
    package let port: UInt16
    /// A Unix socket's path; nil for TCP.
    package let path: String?

    package init(host: String, port: UInt16) {
        self.host = host
        self.port = port
        path = nil
    }

    /// The Unix socket at `path`.
    package init(unixPath path: String) {
        host = ""
        port = 0
        self.path = path
    }

    /// Parses `127.0.0.1:41234`, `[::1]:41234` or `unix:/tmp/ringd.sock`.
    package init?(parsing text: String) {
        if text.hasPrefix("unix:") {
            self.init(unixPath: String(text.dropFirst(5)))
            return
        }
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        self.init(host: host, port: port)
        guard (try? withSocketAddress { _, _ in }) != nil else { return nil }
    }

    package var isIPv6: Bool { host.contains(":") }

    package var family: Int32 { path != nil ? AF_UNIX : isIPv6 ? AF_INET6 : AF_INET }

    package var description: String {
        if let path { return "unix:\(path)" }
        return isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Calls `body` with this endpoint as a `sockaddr` and its length.
    package func withSocketAddress<Result>(
        _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> Result
    ) throws -> Result {
        if let path {
            guard let address = SocketAddress(unixPath: path) else { throw HarnessFailure("not a Unix socket path: \(path)") }
            return try address.withSockaddr(body)
        }
        guard let address = SocketAddress(numericHost: host, port: port, family: family) else {
            throw HarnessFailure("not a numeric \(isIPv6 ? "IPv6" : "IPv4") address: \(host)")
        }
        return try address.withSockaddr(body)
    }

    /// Whether this machine can bind `::1`; the IPv6 test is skipped, with this reason, when not.
    package static let ipv6LoopbackAvailable: Bool = {
        let descriptor = socket(AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        let bound = try? Endpoint(host: "::1", port: 0).withSocketAddress { address, length in
            bind(descriptor, address, length) == 0
        }
        return bound == true
    }()
}

/// The symbolic name of an errno value, for failure messages: URing's table, for every test
/// target that imports TestSupport.
package func errnoName(_ code: Int32) -> String { URing.errnoName(code) }
