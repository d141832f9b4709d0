// A blocking Redis client for tests, made of ringd's own RESP codec: commands written by
// RESPCommand, replies read by RESPDecoder (through RESPStreamDecoder, which assembles them into
// RESPValues), over a plain loopback socket. Talking to a real redis-server this way checks the
// codec against the real thing; later tests use it to drive Redis beside ringd (PUBLISH, GET).
// Every wait is bounded.
import Glibc
import RingdCluster
import RingdServices

package final class RedisConnection {
    package let endpoint: Endpoint
    private let socket: Int32
    private var replies: RESPStreamDecoder
    /// Bytes of every read so far, for a failure message.
    private(set) package var receivedCount = 0

    /// Connects to `endpoint`; `limits` are the decoder's.
    package init(to endpoint: Endpoint, limits: RESPLimits = .standard) throws {
        self.endpoint = endpoint
        replies = RESPStreamDecoder(limits: limits)
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw HarnessFailure("socket: \(errnoName(errno))") }
        let connected = try endpoint.withSocketAddress { address, length in connect(socket, address, length) == 0 }
        // Every property is set, so deinit closes the socket if this throws: closing it here too
        // closed whatever descriptor another test had opened under that number meanwhile.
        guard connected else { throw HarnessFailure("connect to Redis at \(endpoint): \(errnoName(errno))") }
    }

    deinit { if socket >= 0 { close(socket) } }

    /// One command's bytes on the wire, written by RESPCommand (at most 8 arguments).
    package static func encode(_ arguments: [[UInt8]]) -> [UInt8] {
        precondition(!arguments.isEmpty && arguments.count <= RESPCommand.maximumArgumentCount)
        let size = arguments.reduce(64) { $0 + $1.count + 32 }
        return withUnsafeTemporaryAllocation(byteCount: size, alignment: 8) { storage in
            var writer = ByteWriter(storage)
            // Each argument's bytes must outlive the command: nest the buffers.
            func write(_ index: Int, _ command: inout RESPCommand?) {
                guard index < arguments.count else {
                    precondition(command!.write(into: &writer) != nil, "a command larger than its buffer")
                    return
                }
                arguments[index].withUnsafeBytes { bytes in
                    if command == nil { command = RESPCommand(.bytes(bytes)) } else { command!.append(.bytes(bytes)) }
                    write(index + 1, &command)
                }
            }
            var command: RESPCommand?
            write(0, &command)
            return Array(writer.written)
        }
    }

    /// Sends commands, pipelined in one write.
    package func send(_ commands: [[String]]) throws {
        try sendAll(socket, commands.flatMap { Self.encode($0.map { Array($0.utf8) }) }, peer: "Redis at \(endpoint)")
    }

    /// Sends a command of raw byte arguments.
    package func send(bytes arguments: [[UInt8]]) throws {
        try sendAll(socket, Self.encode(arguments), peer: "Redis at \(endpoint)")
    }

    /// Sends one command and reads its reply.
    package func command(_ arguments: String..., within timeout: Duration = .seconds(10)) throws -> RESPValue {
        try send([arguments])
        return try nextValue(within: timeout)
    }

    /// The next whole value Redis sends: a reply, or a pub/sub message.
    package func nextValue(within timeout: Duration = .seconds(10)) throws -> RESPValue {
        let deadline = Deadline(after: timeout)
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            if let value = replies.takeValue() { return value }
            if let failure = replies.failure {
                throw HarnessFailure("Redis at \(endpoint) sent bytes RESPDecoder refuses: \(failure)")
            }
            var entry = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, deadline.remainingMilliseconds)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else {
                throw HarnessFailure("no whole value from Redis at \(endpoint) within \(timeout) (\(receivedCount) bytes so far)")
            }
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw HarnessFailure(
                    "Redis at \(endpoint) closed the connection (\(count < 0 ? errnoName(errno) : "end of stream"))")
            }
            receivedCount += count
            replies.receive(Array(buffer[0..<count]))
        }
    }

    /// How the decoder judged what Redis sent so far.
    package var end: RESPStreamEnd { replies.end }
}
