// SocketAddress: an IPv4 or IPv6 address and port, or a Unix-domain socket's path, as the kernel
// takes it (sockaddr_in, sockaddr_in6 or sockaddr_un inline in a sockaddr_storage), and back to
// the text ringd and ring-client print.
//
// ringd builds one from a listen address and reads one back from getsockname(2) and
// getpeername(2); ring-client builds them from getaddrinfo(3) results. Both print them the same
// way: `127.0.0.1:7000`, `[::1]:7000`, or `unix:/run/ringd/echo.sock`. A Unix-domain client
// usually has no path of its own (it did not bind one), and prints as `unix`.

#if canImport(Glibc)
    import Glibc
#endif

/// A system call that failed, with its errno, for callers that word the failure themselves.
public struct SystemCallError: Error, Sendable {
    /// The call's name, as its manual page spells it: `getsockname`, `pthread_create`.
    public let call: String
    public let errno: Int32

    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }
}

/// sockaddr_in, sockaddr_in6 or sockaddr_un, stored inline in sockaddr_storage.
public struct SocketAddress: Sendable, CustomStringConvertible {
    public var storage = sockaddr_storage()
    public var length: socklen_t

    /// A numeric `host` (`127.0.0.1`, or `::1` without brackets) of `family` (AF_INET or
    /// AF_INET6) and `port`; nil when inet_pton(3) does not take `host` as that family.
    public init?(numericHost host: String, port: UInt16, family: Int32) {
        switch family {
        case AF_INET:
            var ipv4 = sockaddr_in()
            ipv4.sin_family = sa_family_t(AF_INET)
            ipv4.sin_port = port.bigEndian
            guard inet_pton(AF_INET, host, &ipv4.sin_addr) == 1 else { return nil }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: ipv4, as: sockaddr_in.self) }
        case AF_INET6:
            var ipv6 = sockaddr_in6()
            ipv6.sin6_family = sa_family_t(AF_INET6)
            ipv6.sin6_port = port.bigEndian
            guard inet_pton(AF_INET6, host, &ipv6.sin6_addr) == 1 else { return nil }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: ipv6, as: sockaddr_in6.self) }
        default:
            return nil
        }
    }

    /// The longest path a sockaddr_un holds, in bytes, without its terminating NUL.
    public static let maximumUnixPathLength = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// A Unix-domain socket at `path`; nil when the path is empty, holds a NUL, or is longer
    /// than `maximumUnixPathLength` bytes.
    public init?(unixPath path: String) {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count <= Self.maximumUnixPathLength, !bytes.contains(0) else { return nil }
        var unix = sockaddr_un()
        unix.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &unix.sun_path) { $0.copyBytes(from: bytes) }
        length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
        withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: unix, as: sockaddr_un.self) }
    }

    /// A copy of `length` bytes at `address`, as getaddrinfo(3) or accept(2) hand them over.
    public init(copying address: UnsafePointer<sockaddr>, length: socklen_t) {
        self.length = length
        withUnsafeMutableBytes(of: &storage) { target in
            target.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(length)))
        }
    }

    /// The address a socket is bound to, from getsockname(2).
    public init(boundTo descriptor: Int32) throws(SystemCallError) {
        try self.init(descriptor, "getsockname", getsockname)
    }

    /// The address of a connected socket's peer, from getpeername(2).
    public init(peerOf descriptor: Int32) throws(SystemCallError) {
        try self.init(descriptor, "getpeername", getpeername)
    }

    private init(
        _ descriptor: Int32, _ call: String,
        _ query: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) throws(SystemCallError) {
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { query(descriptor, $0, &length) }
        }
        if result != 0 { throw SystemCallError(call, errno: errno) }
        self.length = length
    }

    /// AF_INET, AF_INET6 or AF_UNIX.
    public var family: Int32 { Int32(storage.ss_family) }

    /// The TCP port; 0 for a Unix-domain socket.
    public var port: UInt16 {
        withUnsafeBytes(of: storage) { raw in
            switch family {
            case AF_INET6: UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
            case AF_INET: UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
            default: 0
            }
        }
    }

    /// A Unix-domain socket's path: nil for an IP address, "" for a socket without one (an
    /// unbound client) or in the abstract namespace.
    public var unixPath: String? {
        guard family == AF_UNIX else { return nil }
        let pathOffset = MemoryLayout<sa_family_t>.size
        guard Int(length) > pathOffset else { return "" }
        return withUnsafeBytes(of: storage) { raw in
            let path = raw[pathOffset..<Int(length)]
            guard path.first != 0 else { return "" }  // the abstract namespace
            return String(decoding: path.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Whether this is an IPv4 address in 127.0.0.0/8.
    public var isIPv4Loopback: Bool {
        guard family == AF_INET else { return false }
        let ipv4 = withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in.self) }
        return UInt32(bigEndian: ipv4.sin_addr.s_addr) >> 24 == 127
    }

    /// `127.0.0.1:7000`, `[::1]:7000`, `unix:/run/ringd/echo.sock`, or `unix` for a Unix-domain
    /// socket without a path.
    public var description: String {
        if let path = unixPath { return path.isEmpty ? "unix" : "unix:\(path)" }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        withUnsafeBytes(of: storage) { raw in
            if family == AF_INET6 {
                var address = raw.load(as: sockaddr_in6.self).sin6_addr
                _ = inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
            } else {
                var address = raw.load(as: sockaddr_in.self).sin_addr
                _ = inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
            }
        }
        let host = String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Calls `body` with the address as the `sockaddr` and length that bind(2) and connect(2) take.
    public func withSockaddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> Result) rethrows -> Result {
        try withUnsafeBytes(of: storage) { raw in
            try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }
}
