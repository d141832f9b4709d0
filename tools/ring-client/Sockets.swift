// Sockets: resolving a target, opening client sockets and starting connects.
//
// Any host can be the target: names go through getaddrinfo(3), so IPv4, IPv6 and DNS names all
// work. Connects are nonblocking everywhere; the benchmarks wait for them with io_uring polls and
// the interactive commands with poll(2). The io_uring module has no connect helper yet, and a
// nonblocking connect(2) on loopback costs about what IORING_OP_CONNECT would.

#if canImport(Glibc)
import Glibc
#endif
import RingdSystem
import URing

/// Linux's IP_BIND_ADDRESS_NO_PORT (4.2): bind the source address now, pick the port at connect,
/// so that spreading over 127.0.0.x does not use up ports at bind time.
private let ipBindAddressNoPort: Int32 = 24

extension SocketAddress {
    /// Every TCP address `host` and `port` name, in getaddrinfo's order of preference.
    static func resolve(host: String, port: Int) throws(ClientError) -> [SocketAddress] {
        guard (1...65535).contains(port) else { throw ClientError("port \(port) is not between 1 and 65535") }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_TCP)
        // No AI_ADDRCONFIG: with only a loopback interface it would hide 127.0.0.1 and ::1.
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        if status != 0 {
            let reason = String(cString: gai_strerror(status))
            throw ClientError("cannot resolve \(host): \(reason)")
        }
        defer { freeaddrinfo(list) }
        var endpoints: [SocketAddress] = []
        var entry = list
        while let current = entry {
            if let address = current.pointee.ai_addr,
               current.pointee.ai_family == AF_INET || current.pointee.ai_family == AF_INET6 {
                endpoints.append(SocketAddress(copying: address, length: current.pointee.ai_addrlen))
            }
            entry = current.pointee.ai_next
        }
        if endpoints.isEmpty { throw ClientError("\(host) has no IPv4 or IPv6 address") }
        return endpoints
    }
}

/// How benchmark sockets are set up.
struct SocketOptions: Sendable {
    /// TCP_NODELAY, so a small message leaves at once instead of waiting for Nagle.
    var noDelay = true
    /// Spread source addresses over 127.0.0.1 ... 127.0.0.N; 1 leaves the choice to the kernel.
    var sourceSpread = 1
}

enum ClientSocket {
    /// A nonblocking, close-on-exec TCP socket for `endpoint`, bound to source 127.0.0.(1 + k)
    /// with k = `sourceIndex` % spread when spreading.
    static func open(for endpoint: SocketAddress, options: SocketOptions, sourceIndex: Int) throws(ClientError) -> Int32 {
        let descriptor = socket(endpoint.family, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw ClientError("socket failed: \(errnoName(errno)) (\(errnoText(errno)))") }
        if options.noDelay {
            var one: Int32 = 1
            _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        if options.sourceSpread > 1 {
            var one: Int32 = 1
            _ = setsockopt(descriptor, Int32(IPPROTO_IP), ipBindAddressNoPort, &one, socklen_t(MemoryLayout<Int32>.size))
            var source = sockaddr_in()
            source.sin_family = sa_family_t(AF_INET)
            source.sin_addr.s_addr = (UInt32(0x7f00_0001) + UInt32(sourceIndex % options.sourceSpread)).bigEndian
            let bound = withUnsafePointer(to: &source) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if bound != 0 {
                let code = errno
                _ = close(descriptor)
                throw ClientError("bind to source 127.0.0.\(1 + sourceIndex % options.sourceSpread) failed: \(errnoName(code)) (\(errnoText(code)))")
            }
        }
        return descriptor
    }

    /// Starts a nonblocking connect. Returns 0 when connected at once, EINPROGRESS when the
    /// handshake continues (wait for POLLOUT, then read `pendingError`), or the errno.
    @inline(__always)
    static func startConnect(_ descriptor: Int32, to endpoint: SocketAddress) -> Int32 {
        let result = endpoint.withSockaddr { connect(descriptor, $0, $1) }
        return result == 0 ? 0 : errno
    }

    /// SO_ERROR: the outcome of a nonblocking connect once the socket polled writable.
    static func pendingError(_ descriptor: Int32) -> Int32 {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &code, &length) != 0 { return errno }
        return code
    }

    /// Connects to the first of `endpoints` that accepts within `timeout`, for the interactive
    /// commands. The socket stays nonblocking.
    static func connectWaiting(to endpoints: [SocketAddress], timeout: Duration) throws(ClientError) -> (Int32, SocketAddress) {
        var failures: [String] = []
        for endpoint in endpoints {
            let descriptor = try open(for: endpoint, options: SocketOptions(noDelay: true, sourceSpread: 1), sourceIndex: 0)
            var code = startConnect(descriptor, to: endpoint)
            if code == EINPROGRESS {
                var entry = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&entry, 1, timeout.pollMilliseconds)
                code = ready > 0 ? pendingError(descriptor) : (ready == 0 ? ETIMEDOUT : errno)
            }
            if code == 0 { return (descriptor, endpoint) }
            _ = close(descriptor)
            failures.append(code == ECONNREFUSED
                ? "connection refused by \(endpoint)"
                : "connect to \(endpoint) failed: \(errnoName(code)) (\(errnoText(code)))")
        }
        throw ClientError(failures.joined(separator: "; "))
    }
}

/// Raises RLIMIT_NOFILE so that `descriptors` sockets fit, or says why they cannot.
func raiseDescriptorLimit(toFit descriptors: Int) throws(ClientError) {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    let needed = rlim_t(descriptors + 64)
    guard limit.rlim_cur < needed else { return }
    var raised = limit
    raised.rlim_cur = min(needed, limit.rlim_max)
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised)
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    if limit.rlim_cur < needed {
        throw ClientError("\(descriptors) connections need \(needed) descriptors, but RLIMIT_NOFILE allows \(limit.rlim_cur) (raise it with ulimit -n)")
    }
}
