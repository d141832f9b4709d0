// Listener: the listening sockets. A TCP address gets one socket per worker, joined by
// SO_REUSEPORT; a Unix-domain address gets one socket that every worker accepts from.
//
// The kernel spreads incoming TCP connections over the sockets of a reuseport group, so each
// worker accepts on its own socket with its own ring and no worker hands a connection to
// another: seed 002's "multiple accept() workers" design. A Unix socket has no reuseport
// group, so each worker holds a dup(2) of the one socket and arms its own multishot accept on
// it; the kernel gives each connection to one of them. All listeners are bound before any
// worker starts, so an address in use is reported once, up front, and nothing is half-started.

import RingdConfig
import RingdSystem
import URing

#if canImport(Glibc)
    import Glibc
#endif

/// A listening socket. Owns its descriptor and checks in deinit that it was closed.
final class ListeningSocket: @unchecked Sendable {
    // @unchecked: created on the main thread, then used by exactly one worker thread.
    let descriptor: Int32
    let address: SocketAddress
    private var isClosed = false

    init(descriptor: Int32, address: SocketAddress) {
        self.descriptor = descriptor
        self.address = address
    }

    /// Asks the kernel to give this socket, among its reuseport group, the connections whose
    /// handshake it handled on `cpu` (SO_INCOMING_CPU, Linux 6.2 for reuseport groups), so a
    /// pinned worker gets the connections that arrive on its own CPU and their packets and
    /// wake-ups stay there; nil clears it, since a socket taken over from another ringd keeps
    /// that process's setting. Only for TCP; a failure is harmless (the group spreads by hash).
    func preferConnections(arrivingOn cpu: Int?) {
        guard address.family == AF_INET || address.family == AF_INET6 else { return }
        var value = Int32(cpu ?? -1)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_INCOMING_CPU, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Another descriptor for the same socket (dup(2)), for a second worker to accept on.
    func duplicate() throws(SystemError) -> ListeningSocket {
        let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { throw SystemError("fcntl(F_DUPFD_CLOEXEC)", errno: errno, context: address.description) }
        return ListeningSocket(descriptor: copy, address: address)
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        _ = Glibc.close(descriptor)
    }

    deinit { precondition(isClosed, "ListeningSocket \(address) dropped without close()") }
}

/// The sockets that listen on one address, and the socket file ringd made for it, if any.
struct ListenerGroup {
    let sockets: [ListeningSocket]
    /// The Unix socket's file, removed when ringd exits; nil for TCP.
    let unixFile: UnixSocketFile?
    /// Taken over from a running ringd: until the takeover is done, its file is that ringd's.
    var adopted = false

    /// What the `listening on` line names: `127.0.0.1:7000`, `unix:/run/ringd/echo.sock`.
    var address: SocketAddress { sockets[0].address }

    func close() { sockets.forEach { $0.close() } }

    /// The sockets each of `workers` accepts from: every socket goes to at least one worker and
    /// every worker gets at least one. With a socket per worker (a TCP group), worker i takes
    /// socket i; with fewer (a Unix socket), the workers past them take dups, round robin; with
    /// more, worker i takes sockets i, i + workers, ...
    func perWorker(_ workers: Int) throws(SystemError) -> [[ListeningSocket]] {
        var result: [[ListeningSocket]] = Array(repeating: [], count: workers)
        for (index, socket) in sockets.enumerated() { result[index % workers].append(socket) }
        do throws(SystemError) {
            for worker in sockets.count..<max(workers, sockets.count) {
                result[worker].append(try sockets[worker % sockets.count].duplicate())
            }
        } catch {
            for worker in sockets.count..<workers { result[worker].forEach { $0.close() } }
            throw error
        }
        return result
    }
}

extension ListenerGroup {
    /// What each worker accepts from: its share of every address's sockets, in address order.
    static func socketsPerWorker(_ listeners: [ListenerGroup], workers: Int) throws(SystemError) -> [[ListeningSocket]] {
        var perWorker: [[ListeningSocket]] = Array(repeating: [], count: workers)
        for group in listeners {
            let shares: [[ListeningSocket]]
            do throws(SystemError) { shares = try group.perWorker(workers) } catch {
                perWorker.joined().forEach { $0.close() }
                throw error
            }
            for worker in 0..<workers { perWorker[worker] += shares[worker] }
        }
        return perWorker
    }
}

enum ListenerFactory {
    /// The sockets of each configured address, in order: those a takeover offers for it, or
    /// else a SO_REUSEPORT socket per worker for TCP, one socket for a Unix path. On failure,
    /// nothing is left bound (adopted sockets are closed; the old process still holds them).
    static func bindAll(
        _ configuration: Configuration, workers: Int, adopting takeover: Takeover?
    ) throws(StartupError)
        -> [ListenerGroup]
    {
        let server = configuration.server
        var listeners: [ListenerGroup] = []
        do throws(SystemError) {
            for address in server.listen {
                if let adopted = takeover?.adopt(address, backlog: server.backlog, unixMode: server.unixMode), !adopted.isEmpty {
                    let file = address.family == .unix ? UnixSocketFile(path: address.path) : nil
                    listeners.append(ListenerGroup(sockets: adopted, unixFile: file, adopted: true))
                    continue
                }
                listeners.append(try bind(address, workers: workers, backlog: server.backlog, unixMode: server.unixMode))
            }
        } catch {
            listeners.forEach { $0.close() }
            listeners.filter { !$0.adopted }.forEach { $0.unixFile?.removeIfStillOurs() }
            throw StartupError(error)
        }
        return listeners
    }

    /// The sockets for `address`: a reuseport group of `workers` sockets for TCP, one socket
    /// for a Unix path (see `bindUnix`).
    static func bind(
        _ address: ListenAddress, workers: Int, backlog: Int, unixMode: FileMode
    ) throws(SystemError)
        -> ListenerGroup
    {
        if address.family == .unix {
            let (socket, file) = try bindUnix(address, backlog: backlog, mode: unixMode)
            return ListenerGroup(sockets: [socket], unixFile: file)
        }
        return ListenerGroup(sockets: try bindReusePort(address, workers: workers, backlog: backlog), unixFile: nil)
    }

    /// Binds `workers` reuseport sockets to `address`. Port 0 picks one ephemeral port for
    /// the first socket and binds the others to it. Throws if another process already
    /// listens there: with SO_REUSEPORT it would otherwise silently take part of the traffic.
    private static func bindReusePort(
        _ address: ListenAddress, workers: Int, backlog: Int
    ) throws(SystemError)
        -> [ListeningSocket]
    {
        var target = try SocketAddress(address)
        if address.port != 0 { try refuseIfInUse(target, text: address.description) }
        var sockets: [ListeningSocket] = []
        do throws(SystemError) {
            for _ in 0..<workers {
                let socket = try openListener(target, backlog: backlog, text: address.description)
                sockets.append(socket)
                target = socket.address
            }
        } catch {
            sockets.forEach { $0.close() }
            throw error
        }
        return sockets
    }

    private static func openListener(_ address: SocketAddress, backlog: Int, text: String) throws(SystemError) -> ListeningSocket
    {
        let descriptor = try socketDescriptor(family: address.family, text: text)
        do throws(SystemError) {
            try setOption(descriptor, SOL_SOCKET, SO_REUSEADDR, text: text)
            try setOption(descriptor, SOL_SOCKET, SO_REUSEPORT, text: text)
            // Set once here: Linux copies TCP_NODELAY to every socket accepted from this one,
            // which saves a setsockopt per connection. Replies go out as soon as they are sent.
            try setOption(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, text: text)
            if address.family == AF_INET6 { try setOption(descriptor, Int32(IPPROTO_IPV6), IPV6_V6ONLY, text: text) }
            let bound = address.withSockaddr { Glibc.bind(descriptor, $0, $1) }
            if bound != 0 { throw SystemError("bind", errno: errno, context: text) }
            if Glibc.listen(descriptor, Int32(clamping: backlog)) != 0 {
                throw SystemError("listen", errno: errno, context: text)
            }
            let boundAddress: SocketAddress
            do throws(SystemCallError) { boundAddress = try SocketAddress(boundTo: descriptor) } catch {
                throw SystemError(error)
            }
            return ListeningSocket(descriptor: descriptor, address: boundAddress)
        } catch {
            _ = Glibc.close(descriptor)
            throw error
        }
    }

    /// A bind without SO_REUSEPORT fails with EADDRINUSE when another socket listens on the
    /// address (SO_REUSEADDR only lets it pass connections left in TIME_WAIT).
    private static func refuseIfInUse(_ address: SocketAddress, text: String) throws(SystemError) {
        let descriptor = try socketDescriptor(family: address.family, text: text)
        defer { _ = Glibc.close(descriptor) }
        try setOption(descriptor, SOL_SOCKET, SO_REUSEADDR, text: text)
        if address.family == AF_INET6 { try setOption(descriptor, Int32(IPPROTO_IPV6), IPV6_V6ONLY, text: text) }
        if address.withSockaddr({ Glibc.bind(descriptor, $0, $1) }) != 0 {
            throw SystemError("bind", errno: errno, context: "\(text): another process listens there")
        }
    }

    static func socketDescriptor(family: Int32, text: String) throws(SystemError) -> Int32 {
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if descriptor < 0 { throw SystemError("socket", errno: errno, context: text) }
        return descriptor
    }

    static func setOption(_ descriptor: Int32, _ level: Int32, _ name: Int32, text: String) throws(SystemError) {
        var one: Int32 = 1
        if setsockopt(descriptor, level, name, &one, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            throw SystemError("setsockopt", errno: errno, context: text)
        }
    }
}

extension SocketAddress {
    /// The address to bind for a listen address the configuration already validated.
    init(_ address: ListenAddress) throws(SystemError) {
        if address.family == .unix {
            guard let unix = SocketAddress(unixPath: address.path) else {
                throw SystemError("bind", errno: ENAMETOOLONG, context: address.description)
            }
            self = unix
            return
        }
        let family = address.family == .ipv4 ? AF_INET : AF_INET6
        guard let parsed = SocketAddress(numericHost: address.host, port: address.port, family: family) else {
            throw SystemError("inet_pton", errno: EINVAL, context: address.host)
        }
        self = parsed
    }
}

extension SystemError {
    /// A failure RingdSystem reports as a bare call and errno, worded the way ringd reports it.
    init(_ failure: SystemCallError) {
        self.init(failure.call, errno: failure.errno)
    }
}
