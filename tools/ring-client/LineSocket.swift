// LineSocket: blocking-style line reading and whole writes over a nonblocking socket with
// poll(2), for the interactive commands. Every wait has a timeout.

#if canImport(Glibc)
import Glibc
#endif
import RingdSystem
import URing

struct LineReader {
    let descriptor: Int32
    private var buffer: [UInt8] = []
    private var scanned = 0
    private var ended = false

    init(descriptor: Int32) { self.descriptor = descriptor }

    /// The next line without its `\n` (or `\r\n`); a last line without a newline counts too.
    /// nil when the server closed the connection and nothing is left.
    mutating func nextLine(timeout: Duration) throws(ClientError) -> String? {
        while true {
            if let newline = buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                var line = buffer[..<newline]
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                let text = String(decoding: line, as: UTF8.self)
                buffer.removeSubrange(...newline)
                scanned = 0
                return text
            }
            scanned = buffer.count
            if ended {
                guard !buffer.isEmpty else { return nil }
                let text = String(decoding: buffer, as: UTF8.self)
                buffer.removeAll()
                scanned = 0
                return text
            }
            try fill(timeout: timeout)
        }
    }

    private mutating func fill(timeout: Duration) throws(ClientError) {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(&entry, 1, timeout.pollMilliseconds)
        if ready == 0 { throw ClientError("no line from the server within \(formatDuration(timeout.nanoseconds))") }
        if ready < 0 {
            if errno == EINTR { return }
            throw ClientError("poll failed: \(errnoName(errno))")
        }
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        if count > 0 {
            buffer.append(contentsOf: chunk[..<count])
        } else if count == 0 {
            ended = true
        } else if errno != EAGAIN && errno != EINTR {
            let code = errno
            throw ClientError("recv failed: \(errnoName(code)) (\(errnoText(code)))")
        }
    }
}
