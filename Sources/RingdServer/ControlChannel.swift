// The control channel of a hand-over: a Unix SOCK_SEQPACKET connection between a running ringd
// (at its server.control_socket) and `ringd --takeover PATH`, the process that replaces it.
// Each message arrives whole and in order, so a message is one line of text, and listening
// sockets travel beside it as SCM_RIGHTS.
//
//   new → old   takeover 1                    may I have your listening sockets?
//   old → new   refused REASON                no (another takeover runs; another user), then close
//   old → new   sockets  (+ up to 64 fds)     the listening sockets, in order, in as many messages
//   old → new   end N                         as it takes: N in all
//   new → old   ready I,J,...                 I accept on all of them now, and keep those indexes
//   old → new   released                      I stopped accepting and closed the control socket
//
// The old process stops accepting only on `ready`: until then it serves as before, so a new
// process that fails or dies halfway costs nothing. After `released` the old one serves its open
// connections until their clients close them (or server.drain_timeout), and exits.

import CLinux
import RingdSystem
import URing

#if canImport(Glibc)
    import Glibc
#endif

enum HandOverMessage {
    static let request = "takeover 1"
    static let sockets = "sockets"
    static let end = "end"
    static let refused = "refused"
    static let ready = "ready"
    static let released = "released"
}

/// One message off the channel: its text and the descriptors that came with it.
struct ControlMessage {
    let text: String
    let descriptors: [Int32]

    /// The text after `word` and a space, when the message starts with `word`.
    func argument(after word: String) -> Substring? {
        if text == word { return "" }
        guard text.hasPrefix(word + " ") else { return nil }
        return text.dropFirst(word.count + 1)
    }
}

/// Why a wait on the channel ended without a message.
enum ControlWaitEnd: Error {
    /// The peer closed the connection (or reset it).
    case closed
    /// Nothing came within the time allowed.
    case timedOut
    /// The watched descriptor became readable (the old process was told to stop).
    case interrupted
    case failed(SystemError)
}

/// One end of a control connection. Owns its descriptor.
final class ControlConnection {
    let descriptor: Int32
    private var isClosed = false

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit { close() }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        _ = Glibc.close(descriptor)
    }

    /// Sends `text`, with `descriptors` attached (at most RINGD_DESCRIPTORS_PER_MESSAGE).
    func send(_ text: String, descriptors: [Int32] = []) throws(SystemError) {
        var bytes = Array(text.utf8)
        let sent = bytes.withUnsafeMutableBytes { raw in
            descriptors.withUnsafeBufferPointer {
                ringd_send_descriptors(descriptor, raw.baseAddress, UInt(raw.count), $0.baseAddress, Int32($0.count))
            }
        }
        if sent < 0 { throw SystemError("sendmsg", errno: errno, context: "control connection") }
    }

    /// Sends every descriptor in messages of at most RINGD_DESCRIPTORS_PER_MESSAGE, then `end N`.
    func sendSockets(_ descriptors: [Int32]) throws(SystemError) {
        var start = 0
        while start < descriptors.count {
            let batch = Array(descriptors[start..<min(descriptors.count, start + Int(RINGD_DESCRIPTORS_PER_MESSAGE))])
            try send(HandOverMessage.sockets, descriptors: batch)
            start += batch.count
        }
        try send("\(HandOverMessage.end) \(descriptors.count)")
    }

    /// The next message, waiting at most `timeout`; `watching` (an eventfd) ends the wait early.
    func receive(within timeout: Duration, watching interrupt: Int32 = -1) throws(ControlWaitEnd) -> ControlMessage {
        var entries = [
            pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0), pollfd(fd: interrupt, events: Int16(POLLIN), revents: 0),
        ]
        let deadline = ContinuousClock.now + timeout
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw .timedOut }
            let ready = poll(&entries, interrupt >= 0 ? 2 : 1, Int32(clamping: left.clampedMilliseconds))
            if ready < 0 && errno == EINTR { continue }
            if ready < 0 { throw .failed(SystemError("poll", errno: errno, context: "control connection")) }
            if interrupt >= 0 && entries[1].revents != 0 { throw .interrupted }
            if entries[0].revents != 0 { return try receiveNow() }
        }
    }

    private func receiveNow() throws(ControlWaitEnd) -> ControlMessage {
        var bytes = [UInt8](repeating: 0, count: 4096)
        var descriptors = [Int32](repeating: -1, count: Int(RINGD_DESCRIPTORS_PER_MESSAGE))
        var count: Int32 = 0
        let received = bytes.withUnsafeMutableBytes { raw in
            ringd_receive_descriptors(descriptor, raw.baseAddress, UInt(raw.count), &descriptors, &count)
        }
        let taken = Array(descriptors.prefix(Int(count)))
        if received < 0 {
            let code = errno
            taken.forEach { _ = Glibc.close($0) }
            if code == ECONNRESET { throw .closed }
            throw .failed(SystemError("recvmsg", errno: code, context: "control connection"))
        }
        if received == 0 {
            taken.forEach { _ = Glibc.close($0) }
            throw .closed
        }
        return ControlMessage(text: String(decoding: bytes[..<received], as: UTF8.self), descriptors: taken)
    }
}

extension ControlConnection {
    /// A connection to the control socket at `path`.
    static func connect(to path: String) throws(SystemError) -> ControlConnection {
        guard let address = SocketAddress(unixPath: path) else {
            throw SystemError("connect", errno: ENAMETOOLONG, context: path)
        }
        let descriptor = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw SystemError("socket", errno: errno, context: path) }
        let connection = ControlConnection(descriptor: descriptor)
        while address.withSockaddr({ Glibc.connect(descriptor, $0, $1) }) != 0 {
            if errno != EINTR { throw SystemError("connect", errno: errno, context: path) }
        }
        return connection
    }

    /// The pid and uid of the process at the other end.
    var peer: (pid: Int32, uid: UInt32)? {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        guard ringd_peer_credentials(descriptor, &pid, &uid) == 0 else { return nil }
        return (pid, uid)
    }
}
