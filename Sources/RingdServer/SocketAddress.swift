// SocketAddress: an IPv4 or IPv6 address and port as the kernel wants it, and back to text.

import RingdConfig
import URing
#if canImport(Glibc)
import Glibc
#endif

/// sockaddr_in or sockaddr_in6, stored inline in sockaddr_storage.
struct SocketAddress: CustomStringConvertible {
    var storage = sockaddr_storage()
    var length: socklen_t

    init(_ address: ListenAddress) throws(SystemError) {
        switch address.family {
        case .ipv4:
            var ipv4 = sockaddr_in()
            ipv4.sin_family = sa_family_t(AF_INET)
            ipv4.sin_port = address.port.bigEndian
            guard inet_pton(AF_INET, address.host, &ipv4.sin_addr) == 1 else {
                throw SystemError("inet_pton", errno: EINVAL, context: address.host)
            }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: ipv4, as: sockaddr_in.self) }
        case .ipv6:
            var ipv6 = sockaddr_in6()
            ipv6.sin6_family = sa_family_t(AF_INET6)
            ipv6.sin6_port = address.port.bigEndian
            guard inet_pton(AF_INET6, address.host, &ipv6.sin6_addr) == 1 else {
                throw SystemError("inet_pton", errno: EINVAL, context: address.host)
            }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: ipv6, as: sockaddr_in6.self) }
        }
    }

    /// The address a socket is bound to, from getsockname(2).
    init(boundTo descriptor: Int32) throws(SystemError) {
        try self.init(descriptor, "getsockname", getsockname)
    }

    /// The address of a connected socket's peer, from getpeername(2).
    init(peerOf descriptor: Int32) throws(SystemError) {
        try self.init(descriptor, "getpeername", getpeername)
    }

    private init(_ descriptor: Int32, _ call: String,
                 _ query: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) throws(SystemError) {
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { query(descriptor, $0, &length) }
        }
        if result != 0 { throw SystemError(call, errno: errno) }
        self.length = length
    }

    var family: Int32 { Int32(storage.ss_family) }

    var port: UInt16 {
        withUnsafeBytes(of: storage) { raw in
            family == AF_INET6
                ? UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
                : UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
        }
    }

    /// `127.0.0.1:7000` or `[::1]:7000`.
    var description: String {
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

    func withSockaddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        withUnsafeBytes(of: storage) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }
}
