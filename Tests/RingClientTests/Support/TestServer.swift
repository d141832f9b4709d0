// Small TCP servers written for the tests, each a few lines of blocking socket code on threads:
// well-behaved ones for modes ringd does not serve yet (lines per connection, counter,
// broadcast, relay) and deliberately faulty echo servers (a dropped byte, an early close).
import Foundation
import Glibc
import Synchronization
import TestSupport

/// A listener on 127.0.0.1, port 0, that runs `handler` on its own thread for every connection.
final class TestServer: Sendable {
    typealias Handler = @Sendable (_ socket: Int32, _ number: Int) -> Void

    let port: Int
    private let listener: Int32
    private let state = State()

    private final class State: Sendable {
        let connections = Atomic<Int>(0)
        let stopped = Atomic<Bool>(false)
    }

    init(_ handler: @escaping Handler) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessFailure("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && listen(descriptor, 512) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else {
            close(descriptor)
            throw HarnessFailure("bind/listen on 127.0.0.1:0 failed: errno \(errno)")
        }
        listener = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
        let state = self.state
        Thread.detachNewThread {
            while !state.stopped.load(ordering: .relaxed) {
                let client = accept(descriptor, nil, nil)
                if client < 0 {
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    return
                }
                var one: Int32 = 1
                setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                let number = state.connections.add(1, ordering: .relaxed).newValue
                Thread.detachNewThread {
                    handler(client, number)
                    close(client)
                }
            }
        }
    }

    deinit { stop() }

    /// Stops accepting; connections in progress end when their handlers return.
    func stop() {
        guard !state.stopped.exchange(true, ordering: .relaxed) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}

// MARK: - Socket helpers for handlers

/// Up to 64 KiB from `socket`; nil at end of stream or on error.
func receiveSome(_ socket: Int32) -> [UInt8]? {
    var buffer = [UInt8](repeating: 0, count: 65536)
    let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
    guard count > 0 else { return nil }
    return Array(buffer[..<count])
}

/// Reads until the peer closes (or `socket` fails).
func drainUntilClosed(_ socket: Int32) {
    while receiveSome(socket) != nil {}
}

/// The wall clock as ringd's {time} writes it: seconds with six decimals.
func unixTimeText() -> String {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    let micro = String(now.tv_nsec / 1000)
    return "\(now.tv_sec)." + String(repeating: "0", count: 6 - micro.count) + micro
}

// MARK: - The servers

enum TestServers {
    /// An echo server that leaves out byte number `dropped` (counted from 0) of every
    /// connection's stream.
    static func echoDroppingByte(_ dropped: Int) throws -> TestServer {
        try TestServer { socket, _ in
            var total = 0
            while var bytes = receiveSome(socket) {
                let start = total
                total += bytes.count
                if start <= dropped && dropped < total { bytes.remove(at: dropped - start) }
                guard (try? sendAll(socket, bytes)) != nil else { return }
            }
        }
    }

    /// An echo server that closes every connection once it has received `limit` bytes, echoing
    /// only what came before.
    static func echoClosingAfter(_ limit: Int) throws -> TestServer {
        try TestServer { socket, _ in
            var total = 0
            while let bytes = receiveSome(socket) {
                let keep = min(bytes.count, limit - total)
                total += bytes.count
                if keep > 0 { _ = try? sendAll(socket, Array(bytes[..<keep])) }
                if total >= limit { return }
            }
        }
    }

    /// An echo server that never sends the last byte of each `messageSize`-byte message, so
    /// a ping-pong client waits forever for it.
    static func echoWithholdingLastByte(of messageSize: Int) throws -> TestServer {
        try TestServer { socket, _ in
            var total = 0
            while let bytes = receiveSome(socket) {
                var kept: [UInt8] = []
                for byte in bytes {
                    if total % messageSize != messageSize - 1 { kept.append(byte) }
                    total += 1
                }
                guard (try? sendAll(socket, kept)) != nil else { return }
            }
        }
    }

    /// Sends `lines` lines naming the connection, then waits for the client to close.
    static func linesPerConnection(_ lines: Int) throws -> TestServer {
        try TestServer { socket, number in
            var text = ""
            for line in 1...lines { text += "line \(line) of connection \(number)\n" }
            _ = try? sendAll(socket, text)
            drainUntilClosed(socket)
        }
    }

    /// A counter: every connection gets `count: N\n` (N = 1, 2, ...) and is closed. With
    /// `repeating`, that value is handed out twice.
    static func counter(repeating: Int? = nil) throws -> TestServer {
        let next = Atomic<Int>(0)
        return try TestServer { socket, _ in
            var value = next.add(1, ordering: .relaxed).newValue
            if let repeating, value == repeating + 1 { value = repeating }
            _ = try? sendAll(socket, "count: \(value)\n")
        }
    }

    /// Broadcast-style: every connection gets `seq=N time=T clients=1` every `interval`, N
    /// rising from 1; with `skipping`, that seq is never sent.
    static func broadcast(every interval: Duration = .milliseconds(5), skipping: Int? = nil) throws -> TestServer {
        try TestServer { socket, _ in
            var seq = 0
            while true {
                seq += 1
                if seq == skipping { continue }
                guard (try? sendAll(socket, "seq=\(seq) time=\(unixTimeText()) clients=1\n")) != nil else { return }
                let (seconds, attoseconds) = interval.components
                usleep(UInt32(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
            }
        }
    }

    /// A relay hub: welcomes each client, then forwards each line it sends to every other client
    /// as `clientN: line`.
    static func relay() throws -> TestServer {
        let clients = ClientTable()
        return try TestServer { socket, number in
            clients.withLock { table in
                table[number] = socket
                _ = try? sendAll(socket, "* you are client\(number)\n")
            }
            defer { clients.withLock { _ = $0.removeValue(forKey: number) } }
            var pending: [UInt8] = []
            while let bytes = receiveSome(socket) {
                pending += bytes
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = Array("client\(number): ".utf8) + pending[...newline]
                    pending.removeSubrange(...newline)
                    clients.withLock { table in
                        for (other, destination) in table where other != number { _ = try? sendAll(destination, line) }
                    }
                }
            }
        }
    }
}

/// The relay hub's sockets by client number, behind an NSLock (a pthread mutex).
/// Synchronization's `Mutex` hands a contended lock over inside the kernel on Linux, which
/// ThreadSanitizer cannot see, so it reported a race on this table that was not there.
private final class ClientTable: @unchecked Sendable {
    // @unchecked: `table` is only touched under `lock`.
    private let lock = NSLock()
    private var table: [Int: Int32] = [:]

    func withLock<Result>(_ body: (inout [Int: Int32]) -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body(&table)
    }
}
