// A TCP client socket for talking to ringd. The descriptor is non-blocking and every wait goes
// through poll(2) with a timeout, so a server that stops answering fails the test instead of
// hanging it. Sends use MSG_NOSIGNAL: a reset from ringd is an error to report, not a SIGPIPE that
// kills the test process.
import Glibc
import TestSupport

final class TestSocket {
    let descriptor: Int32
    let endpoint: Endpoint
    private var isClosed = false

    /// What one non-blocking receive produced.
    enum Received: Equatable {
        case bytes(Int)
        case endOfStream
        case wouldBlock
    }

    /// Connects to `endpoint`, waiting at most `timeout` for the handshake. A `receiveBufferSize`
    /// is set with SO_RCVBUF before connecting, so the window ringd sees is small from the start
    /// (a client that falls behind at once); nil keeps the kernel's autotuning. A `source`
    /// address (any port) is bound before connecting, such as 127.0.0.2: the whole of
    /// 127.0.0.0/8 is loopback on Linux, so one machine has clients an access list tells apart.
    init(
        connectingTo endpoint: Endpoint, from source: String? = nil, timeout: Duration = .seconds(20),
        receiveBufferSize: Int? = nil
    ) throws {
        self.endpoint = endpoint
        // CLOEXEC: a ringd started by a concurrent test must not inherit this socket, or closing
        // it here would not close the connection.
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        descriptor = socket(endpoint.family, type, 0)
        guard descriptor >= 0 else {
            throw HarnessFailure("socket for \(endpoint): \(errnoName(errno))")
        }
        do {
            if let receiveBufferSize {
                var size = Int32(clamping: receiveBufferSize)
                guard setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
                    throw HarnessFailure("setsockopt(SO_RCVBUF): \(errnoName(errno))")
                }
            }
            if let source {
                let bound = try Endpoint(host: source, port: 0).withSocketAddress { bind(descriptor, $0, $1) }
                guard bound == 0 else { throw HarnessFailure("bind to \(source): \(errnoName(errno))") }
            }
            try connect(timeout: timeout)
        } catch {
            Glibc.close(descriptor)
            isClosed = true
            throw error
        }
    }

    deinit {
        close()
    }

    private func connect(timeout: Duration) throws {
        let result = try endpoint.withSocketAddress { Glibc.connect(descriptor, $0, $1) }
        if result == 0 { return }
        guard errno == EINPROGRESS else {
            throw HarnessFailure("connect to \(endpoint): \(errnoName(errno))")
        }
        guard try wait(for: Int16(POLLOUT), timeout: timeout) else {
            throw HarnessFailure("connect to \(endpoint): no answer within \(timeout)")
        }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else {
            throw HarnessFailure("getsockopt(SO_ERROR): \(errnoName(errno))")
        }
        guard error == 0 else {
            throw HarnessFailure("connect to \(endpoint): \(errnoName(error))")
        }
    }

    /// Waits until `events` are ready or an error or hang-up is pending; false on timeout.
    func wait(for events: Int16, timeout: Duration) throws -> Bool {
        let deadline = Deadline(after: timeout)
        var entry = pollfd(fd: descriptor, events: events, revents: 0)
        while true {
            let ready = poll(&entry, 1, deadline.remainingMilliseconds)
            if ready > 0 { return true }
            if ready == 0 { return false }
            guard errno == EINTR else { throw HarnessFailure("poll: \(errnoName(errno))") }
        }
    }

    /// Sends what the kernel accepts now from `bytes`; nil when it accepts nothing (EAGAIN).
    func sendSome(_ bytes: UnsafeRawBufferPointer) throws -> Int? {
        while true {
            let sent = send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if sent >= 0 { return sent }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            throw HarnessFailure("send to \(endpoint): \(errnoName(errno))")
        }
    }

    /// Receives what is available now into `buffer`.
    func receiveSome(into buffer: UnsafeMutableRawBufferPointer) throws -> Received {
        while true {
            let received = recv(descriptor, buffer.baseAddress, buffer.count, 0)
            if received > 0 { return .bytes(received) }
            if received == 0 { return .endOfStream }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return .wouldBlock }
            throw HarnessFailure("recv from \(endpoint): \(errnoName(errno))")
        }
    }

    /// Sends all of `bytes` without reading anything back; for payloads small enough to fit in
    /// the socket buffers, or when the test wants ringd's replies to pile up.
    func sendAll(_ bytes: [UInt8], timeout: Duration = .seconds(20)) throws {
        try TestSupport.sendAll(descriptor, bytes, peer: endpoint.description, timeout: timeout)
    }

    /// Sends as much of `bytes` as the kernel takes without waiting, and returns how much that
    /// was: a client that writes and then stops reading, leaving ringd with replies it cannot send.
    func sendUntilFull(_ bytes: [UInt8]) throws -> Int {
        var offset = 0
        try bytes.withUnsafeBytes { all in
            while offset < all.count, let sent = try sendSome(UnsafeRawBufferPointer(rebasing: all[offset...])) {
                offset += sent
            }
        }
        return offset
    }

    /// Waits until bytes (or end of stream) can be read, failing after `timeout`.
    func requireReadable(within timeout: Duration = .seconds(20)) throws {
        guard try wait(for: Int16(POLLIN), timeout: timeout) else {
            throw HarnessFailure("nothing from \(endpoint) within \(timeout)")
        }
    }

    /// Receives everything until the peer closes, failing if nothing arrives for `idleTimeout`.
    func receiveUntilEndOfStream(idleTimeout: Duration = .seconds(20)) throws -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            switch try buffer.withUnsafeMutableBytes({ try receiveSome(into: $0) }) {
            case .bytes(let length): received.append(contentsOf: buffer[..<length])
            case .endOfStream: return received
            case .wouldBlock:
                guard try wait(for: Int16(POLLIN), timeout: idleTimeout) else {
                    throw HarnessFailure(
                        "recv from \(endpoint): no end of stream within \(idleTimeout) of the last "
                            + "bytes; \(received.count) bytes received")
                }
            }
        }
    }

    /// Closes the sending direction: ringd sees end of stream but can still send.
    func shutdownWrite() throws {
        guard shutdown(descriptor, Int32(SHUT_WR)) == 0 else {
            throw HarnessFailure("shutdown(SHUT_WR): \(errnoName(errno))")
        }
    }

    /// Closes with SO_LINGER {1, 0}, which discards unsent data and sends RST instead of FIN.
    func closeWithReset() throws {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        guard setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size)) == 0
        else {
            throw HarnessFailure("setsockopt(SO_LINGER): \(errnoName(errno))")
        }
        close()
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(descriptor)
    }
}
