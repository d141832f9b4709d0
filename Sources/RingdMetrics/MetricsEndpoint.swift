// MetricsEndpoint: `GET /metrics` on its own thread, bounded whatever scrapers do.
//
// One thread polls the listening socket, an eventfd that stops it, and at most
// `scraperCapacity` connections. Each connection is one request: its head must arrive within
// `readDeadline` and be at most ScrapeRequest.headLimit bytes, its response must be taken within
// `writeDeadline`, and then it is closed. When every slot is taken, a new connection evicts the
// one closest to its deadline, so a crowd of slow or silent connections (slowloris) cannot keep
// a prompt scraper out. Rendering reads the workers' published statistics with atomic loads:
// workers never wait for this thread, so no scraper, hostile or not, can delay serving.

import CLinux
import RingdConfig
import RingdServer
import RingdSystem
import URing

#if canImport(Glibc)
    import Glibc
#endif

public final class MetricsEndpoint: @unchecked Sendable {
    // @unchecked: made and started on the main thread; after `start`, the descriptors and the
    // scraper table belong to the endpoint's thread until `stop` has joined it.

    /// The address bound, with the port the kernel chose for port 0.
    public let address: SocketAddress
    private let listener: Int32
    private let stopSignal: Int32
    private var thread: JoinableThread?
    private var isClosed = false

    static let scraperCapacity = 16
    static let readDeadline: UInt64 = 5_000_000_000
    static let writeDeadline: UInt64 = 10_000_000_000
    /// Bytes read and dropped after a refused request (a request line over the limit) so that
    /// the client reads its 431 instead of a reset; past this the connection is closed.
    static let discardLimit = 4 << 20

    /// Binds and listens on `listenAddress`, so that a port in use fails ringd's start with a
    /// clear message before any worker runs.
    public static func bind(_ listenAddress: ListenAddress) throws(StartupError) -> MetricsEndpoint {
        do throws(SystemError) {
            return try MetricsEndpoint(listenAddress)
        } catch {
            var message = "cannot serve metrics on \(listenAddress): \(error)."
            switch error.errno {
            case EADDRINUSE: message += " Fix: stop the other server or choose another metrics.listen."
            case EACCES: message += " Ports below 1024 need root or CAP_NET_BIND_SERVICE."
            default: break
            }
            throw StartupError(message: message)
        }
    }

    private init(_ listenAddress: ListenAddress) throws(SystemError) {
        let family = listenAddress.family == .ipv4 ? AF_INET : AF_INET6
        guard let target = SocketAddress(numericHost: listenAddress.host, port: listenAddress.port, family: family) else {
            throw SystemError("inet_pton", errno: EINVAL, context: listenAddress.host)
        }
        let flags = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        let listener = socket(family, flags, 0)
        guard listener >= 0 else { throw SystemError("socket", errno: errno) }
        do throws(SystemError) {
            var one: Int32 = 1
            _ = setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if family == AF_INET6 {
                _ = setsockopt(listener, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            if target.withSockaddr({ Glibc.bind(listener, $0, $1) }) != 0 { throw SystemError("bind", errno: errno) }
            if Glibc.listen(listener, 64) != 0 { throw SystemError("listen", errno: errno) }
            do throws(SystemCallError) { address = try SocketAddress(boundTo: listener) } catch {
                throw SystemError(error.call, errno: error.errno)
            }
            stopSignal = ringd_eventfd()
            if stopSignal < 0 { throw SystemError("eventfd", errno: errno) }
        } catch {
            _ = Glibc.close(listener)
            throw error
        }
        self.listener = listener
    }

    deinit { precondition(isClosed, "MetricsEndpoint \(address) dropped without stop()") }

    /// Serves `status` from a thread of its own until `stop`.
    public func start(_ status: ServerStatus, version: String) {
        let loop = ScrapeLoop(
            listener: listener, stopSignal: stopSignal, registry: MetricsRegistry(status: status, version: version))
        do {
            thread = try JoinableThread {
                _ = ringd_name_current_thread("ringd-metrics")
                loop.run()
            }
        } catch {
            preconditionFailure("pthread_create failed: \(errnoName(error.errno))")
        }
    }

    /// Stops the thread, closes every scraper connection and the listener.
    public func stop() {
        guard !isClosed else { return }
        isClosed = true
        if let thread {
            var one: UInt64 = 1
            _ = write(stopSignal, &one, MemoryLayout<UInt64>.size)
            thread.join()
        }
        _ = Glibc.close(listener)
        _ = Glibc.close(stopSignal)
    }
}
