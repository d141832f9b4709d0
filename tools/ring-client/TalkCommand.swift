// `ring-client talk`: the line client of seeds 001 and 002. Sends what is typed (or piped) on
// stdin, prints whatever the server sends as it arrives, including lines nobody asked for
// (relay, broadcast). End of input half-closes the connection and waits for the rest.

import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import RingdSystem
import URing

struct TalkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "talk",
        abstract: "Send stdin lines to the server and print everything it sends.",
        discussion: """
            Lines read from stdin are sent as they come; bytes from the server are written to \
            stdout as they arrive, so replies (`1: hello` from a numbering server) and lines that \
            arrive on their own (relay, broadcast) both appear. A last input line without a newline \
            gets one.

            At end of input (Ctrl-D, or the end of a pipe) the write side is closed (shutdown \
            SHUT_WR) and talk keeps printing until the server closes the connection, as long as \
            the server goes on sending; after --wait with nothing from the server it stops anyway.

            Exit status 0 when the server closed the connection or went quiet after end of input; \
            1 when it could not connect or the connection failed.

            Example: printf 'hello\\nworld\\n' | ring-client talk 127.0.0.1 7000
            """)

    @OptionGroup var target: TargetArguments

    @Option(help: ArgumentHelp("After end of input, stop when the server has sent nothing for this long.", valueName: "duration"))
    var wait: DurationArgument = .seconds(5)

    @Option(help: ArgumentHelp("How long connecting may take.", valueName: "duration"))
    var connectTimeout: DurationArgument = .seconds(10)

    func validate() throws {
        guard connectTimeout.nanoseconds > 0 else { throw ValidationError("--connect-timeout must be at least 1ns") }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let endpoints = try target.endpoints()
        let (descriptor, endpoint) = try ClientSocket.connectWaiting(to: endpoints, timeout: connectTimeout.duration)
        defer { _ = close(descriptor) }
        var session = TalkSession(socket: descriptor, endpoint: endpoint, quietLimit: wait.duration)
        try session.run()
    }
}

/// The poll loop of `talk`: stdin to the socket, the socket to stdout.
struct TalkSession {
    let socket: Int32
    let endpoint: SocketAddress
    let quietLimit: Duration
    private var outgoing: [UInt8] = []
    private var inputOpen = true
    private var lastInputByte: UInt8 = UInt8(ascii: "\n")
    private var writeClosed = false
    private var buffer = [UInt8](repeating: 0, count: 65536)

    init(socket: Int32, endpoint: SocketAddress, quietLimit: Duration) {
        self.socket = socket
        self.endpoint = endpoint
        self.quietLimit = quietLimit
    }

    mutating func run() throws(ClientError) {
        while true {
            var entries = [pollfd(fd: socket, events: Int16(POLLIN) | (outgoing.isEmpty ? 0 : Int16(POLLOUT)), revents: 0)]
            let readInput = inputOpen && outgoing.count < 65536
            if readInput { entries.append(pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)) }
            let waitMilliseconds = writeClosed ? quietLimit.pollMilliseconds : -1
            let ready = poll(&entries, nfds_t(entries.count), waitMilliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                throw ClientError("poll failed: \(errnoName(errno))")
            }
            if ready == 0 {
                writeStandardError("ring-client: the server sent nothing for \(formatDuration(quietLimit.nanoseconds)) after end of input; closing\n")
                return
            }
            if entries[0].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                if try !receive() { return }
            }
            if entries[0].revents & Int16(POLLOUT) != 0 { try flush() }
            if readInput && entries[1].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 { readStandardInput() }
            if !inputOpen && outgoing.isEmpty && !writeClosed {
                writeClosed = true
                _ = shutdown(socket, Int32(SHUT_WR))
            }
        }
    }

    /// Copies what the server sent to stdout; false once the server has closed.
    private mutating func receive() throws(ClientError) -> Bool {
        let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        if count > 0 {
            buffer.withUnsafeBytes { writeAll(STDOUT_FILENO, UnsafeRawBufferPointer(rebasing: $0[..<count]), waitingWhenFull: true) }
            return true
        }
        if count == 0 {
            if inputOpen || !outgoing.isEmpty {
                writeStandardError("ring-client: \(endpoint) closed the connection\n")
            }
            return false
        }
        let code = errno
        if code == EAGAIN || code == EINTR { return true }
        throw ClientError("the connection to \(endpoint) failed: \(errnoName(code)) (\(errnoText(code)))")
    }

    private mutating func flush() throws(ClientError) {
        let sent = outgoing.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if sent > 0 {
            outgoing.removeFirst(sent)
        } else if sent < 0 && errno != EAGAIN && errno != EINTR {
            let code = errno
            throw ClientError("sending to \(endpoint) failed: \(errnoName(code)) (\(errnoText(code)))")
        }
    }

    private mutating func readStandardInput() {
        let count = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
        if count > 0 {
            outgoing.append(contentsOf: buffer[..<count])
            lastInputByte = buffer[count - 1]
        } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
            inputOpen = false
            if lastInputByte != UInt8(ascii: "\n") { outgoing.append(UInt8(ascii: "\n")) }
        }
    }
}
