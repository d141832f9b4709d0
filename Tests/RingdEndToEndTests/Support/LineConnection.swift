// A client of the line-based services (greet, counter, line echo, broadcast, relay): it queues
// what it sends, splits what ringd sends into lines, and records how the connection ended, a
// clean end of stream or a reset, because several services promise one and not the other.
//
// Many connections progress together from one poll(2) loop (`LineConnection.pump`), so a test
// can read from a hundred broadcast clients, or send from four relay clients while all of them
// read, on one thread. Every wait has a deadline.
import Glibc
import TestSupport

/// How a connection ended, seen from the client.
enum ConnectionEnd: Equatable, CustomStringConvertible {
    /// recv(2) returned 0: ringd closed the connection cleanly, with a FIN.
    case endOfStream
    /// recv(2) failed with this errno: ECONNRESET, or EPIPE when the reset came after a FIN.
    case reset(Int32)

    var isReset: Bool {
        if case .reset = self { return true }
        return false
    }

    var description: String {
        switch self {
        case .endOfStream: "end of stream"
        case .reset(let code): "reset (\(errnoName(code)))"
        }
    }
}

final class LineConnection {
    let socket: TestSocket
    /// Received bytes not yet taken as lines: `received[consumed...]`.
    private var received: [UInt8] = []
    private var consumed = 0
    /// Bytes queued by `queue` and not yet accepted by the kernel.
    private var output: [UInt8] = []
    private var outputSent = 0
    private(set) var end: ConnectionEnd?
    /// Every byte received so far, counting those already taken as lines.
    private(set) var totalBytesReceived = 0
    /// One recv(2) buffer for the life of the connection.
    private var receiveBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    init(socket: TestSocket) {
        self.socket = socket
    }

    convenience init(connectingTo endpoint: Endpoint, receiveBufferSize: Int? = nil) throws {
        self.init(socket: try TestSocket(connectingTo: endpoint, receiveBufferSize: receiveBufferSize))
    }

    var hasEnded: Bool { end != nil }

    /// Received bytes that do not yet form a complete line.
    var unterminated: ArraySlice<UInt8> { received[consumed...] }

    /// Whether queued bytes are still waiting to be sent.
    var wantsToWrite: Bool { outputSent < output.count }

    // MARK: Sending

    /// Queues `bytes`, sends what the kernel takes now, and leaves the rest for `pump`.
    func queue(_ bytes: [UInt8]) throws {
        if outputSent == output.count {
            output.removeAll(keepingCapacity: true)
            outputSent = 0
        }
        output.append(contentsOf: bytes)
        try sendQueued()
    }

    func queue(_ text: String) throws {
        try queue(Array(text.utf8))
    }

    /// Sends `bytes` now, waiting for room at most `timeout`; for small messages.
    func send(_ bytes: [UInt8], timeout: Duration = .seconds(20)) throws {
        try queue(bytes)
        let deadline = Deadline(after: timeout)
        while wantsToWrite {
            if deadline.hasPassed {
                throw HarnessFailure("send to \(socket.endpoint): no room within \(timeout)")
            }
            _ = try socket.wait(for: Int16(POLLOUT), timeout: .milliseconds(Int64(deadline.remainingMilliseconds)))
            try sendQueued()
        }
    }

    func send(_ text: String, timeout: Duration = .seconds(20)) throws {
        try send(Array(text.utf8), timeout: timeout)
    }

    /// Sends queued bytes until the kernel pushes back.
    func sendQueued() throws {
        try output.withUnsafeBytes { all in
            while outputSent < all.count,
                let sent = try socket.sendSome(UnsafeRawBufferPointer(rebasing: all[outputSent...]))
            {
                outputSent += sent
            }
        }
    }

    // MARK: Receiving

    /// Receives what is available now, at most a few reads so other connections get a turn.
    /// Returns whether anything happened (bytes or the end of the connection).
    @discardableResult
    func receiveAvailable() throws -> Bool {
        guard end == nil else { return false }
        if consumed > 0 && consumed == received.count {
            received.removeAll(keepingCapacity: true)
            consumed = 0
        } else if consumed > 64 * 1024 && consumed * 2 > received.count {
            received.removeSubrange(0..<consumed)
            consumed = 0
        }
        var progressed = false
        for _ in 0..<8 {
            let result = receiveBuffer.withUnsafeMutableBytes { recv(socket.descriptor, $0.baseAddress, $0.count, 0) }
            if result > 0 {
                received.append(contentsOf: receiveBuffer[..<result])
                totalBytesReceived += result
                progressed = true
                continue
            }
            if result == 0 {
                end = .endOfStream
                return true
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return progressed }
            if code == ECONNRESET || code == EPIPE {
                end = .reset(code)
                return true
            }
            throw HarnessFailure("recv from \(socket.endpoint): \(errnoName(code))")
        }
        return progressed
    }

    /// Takes the next complete line, with its "\n", from what was received; nil if there is none.
    func nextLine() -> [UInt8]? {
        // memchr rather than firstIndex(of:): a debug build scans megabytes of heartbeats here.
        let newline: Int? = received.withUnsafeBytes { all in
            let rest = UnsafeRawBufferPointer(rebasing: all[consumed...])
            guard let base = rest.baseAddress, let found = memchr(base, 0x0A, rest.count) else { return nil }
            return consumed + (found - UnsafeMutableRawPointer(mutating: base))
        }
        guard let newline else { return nil }
        let line = Array(received[consumed...newline])
        consumed = newline + 1
        return line
    }

    /// Takes every byte received so far, complete lines or not.
    func takeAll() -> [UInt8] {
        defer { consumed = received.count }
        return Array(received[consumed...])
    }

    /// Waits for the next complete line. Fails if the connection ends first or `timeout` passes.
    func readLine(within timeout: Duration = .seconds(20)) throws -> [UInt8] {
        var line: [UInt8]?
        let finished = try Self.pump([self], within: timeout) {
            line = nextLine()
            return line != nil || hasEnded
        }
        if let line = line ?? nextLine() { return line }
        throw HarnessFailure(
            (finished ? "the connection ended (\(end!)) " : "no complete line within \(timeout) ")
                + "from \(socket.endpoint); unterminated bytes: \(quoted(unterminated))")
    }

    /// Waits for the next line and returns it as text.
    func readLineText(within timeout: Duration = .seconds(20)) throws -> String {
        String(decoding: try readLine(within: timeout), as: UTF8.self)
    }

    /// Waits for `count` complete lines.
    func readLines(_ count: Int, within timeout: Duration = .seconds(20)) throws -> [[UInt8]] {
        let deadline = Deadline(after: timeout)
        return try (0..<count).map { _ in
            try readLine(within: .milliseconds(Int64(deadline.remainingMilliseconds)))
        }
    }

    /// Reads until ringd ends the connection and returns every byte not yet taken, and how it
    /// ended. Fails if the connection is still open after `timeout`.
    func readToEnd(within timeout: Duration = .seconds(20)) throws -> (bytes: [UInt8], end: ConnectionEnd) {
        let ended = try Self.pump([self], within: timeout) { hasEnded }
        guard ended, let end else {
            throw HarnessFailure(
                "\(socket.endpoint): the connection was still open after \(timeout); received "
                    + "\(quoted(unterminated))")
        }
        return (takeAll(), end)
    }

    // MARK: Many connections

    /// Sends queued bytes and receives on all `connections` from one poll loop until `done`
    /// returns true (checked before each wait) or `timeout` passes; returns whether `done` did.
    /// Connections that have ended are no longer polled; `done` should consider them.
    static func pump(
        _ connections: [LineConnection], within timeout: Duration, until done: () throws -> Bool
    ) throws -> Bool {
        let deadline = Deadline(after: timeout)
        var entries: [pollfd] = []
        var active: [LineConnection] = []
        while true {
            if try done() { return true }
            if deadline.hasPassed { return false }
            entries.removeAll(keepingCapacity: true)
            active.removeAll(keepingCapacity: true)
            for connection in connections where !connection.hasEnded {
                let events = Int16(POLLIN) | (connection.wantsToWrite ? Int16(POLLOUT) : 0)
                entries.append(pollfd(fd: connection.socket.descriptor, events: events, revents: 0))
                active.append(connection)
            }
            if active.isEmpty { return try done() }
            // Wake at least every 100 ms, so a `done` that watches something other than these
            // sockets (ringd's stdout, /proc) is rechecked.
            let wait = min(deadline.remainingMilliseconds, 100)
            let ready = poll(&entries, nfds_t(entries.count), wait)
            if ready < 0 {
                if errno == EINTR { continue }
                throw HarnessFailure("poll: \(errnoName(errno))")
            }
            for (connection, entry) in zip(active, entries) where entry.revents != 0 {
                if entry.revents & Int16(POLLOUT) != 0 {
                    do {
                        try connection.sendQueued()
                    } catch {
                        // A send that fails because ringd reset the connection: the receive
                        // below records the reset.
                    }
                }
                if entry.revents & (Int16(POLLIN) | Int16(POLLHUP) | Int16(POLLERR)) != 0 {
                    try connection.receiveAvailable()
                }
            }
        }
    }
}

extension TestSocket {
    /// The client's own address and port (getsockname), which ringd sees as the peer.
    var localEndpoint: Endpoint {
        get throws {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let result = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
            }
            guard result == 0 else { throw HarnessFailure("getsockname: \(errnoName(errno))") }
            return try Endpoint(socketAddress: storage)
        }
    }

    /// Sets TCP_NODELAY, so each small send leaves as its own segment.
    func disableNagle() throws {
        var one: Int32 = 1
        guard setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size)) == 0
        else {
            throw HarnessFailure("setsockopt(TCP_NODELAY): \(errnoName(errno))")
        }
    }
}

extension Endpoint {
    /// The numeric host and port of a `sockaddr_in` or `sockaddr_in6`.
    init(socketAddress storage: sockaddr_storage) throws {
        var storage = storage
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(storage.ss_family) {
        case AF_INET:
            let (address, port) = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { ($0.pointee.sin_addr, $0.pointee.sin_port) }
            }
            var copy = address
            inet_ntop(AF_INET, &copy, &text, socklen_t(text.count))
            self.init(host: Self.string(fromNulTerminated: text), port: UInt16(bigEndian: port))
        case AF_INET6:
            let (address, port) = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { ($0.pointee.sin6_addr, $0.pointee.sin6_port) }
            }
            var copy = address
            inet_ntop(AF_INET6, &copy, &text, socklen_t(text.count))
            self.init(host: Self.string(fromNulTerminated: text), port: UInt16(bigEndian: port))
        default:
            throw HarnessFailure("unexpected address family \(storage.ss_family)")
        }
    }

    private static func string(fromNulTerminated text: [CChar]) -> String {
        String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The text ringd renders for a client at this address: `HOST PORT`.
    var peerText: String { "\(host) \(port)" }
}

/// Bytes as a readable string for failure messages: printable ASCII as is, the rest escaped,
/// and long runs shortened in the middle.
func quoted<Bytes: Collection>(_ bytes: Bytes, limit: Int = 300) -> String where Bytes.Element == UInt8 {
    var text = "\""
    func append(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\n"): text += "\\n"
        case UInt8(ascii: "\r"): text += "\\r"
        case UInt8(ascii: "\""): text += "\\\""
        case UInt8(ascii: "\\"): text += "\\\\"
        case 0x20...0x7E: text.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = String(byte, radix: 16)
            text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
        }
    }
    if bytes.count <= limit {
        bytes.forEach(append)
    } else {
        bytes.prefix(limit / 2).forEach(append)
        text += "\" ... (\(bytes.count) bytes) ... \""
        bytes.suffix(limit / 2).forEach(append)
    }
    return text + "\""
}
