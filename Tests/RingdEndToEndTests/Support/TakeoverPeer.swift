// A takeover that stops halfway, for the tests of what a running ringd does when the new process
// fails or dies during a hand-over: it speaks the first half of the control channel (see
// Sources/RingdServer/ControlChannel.swift) to the real ringd, takes its listening sockets, and
// then holds on, or closes the connection as a killed process would, without ever saying `ready`.
import CLinux
import Glibc
import TestSupport

final class TakeoverPeer {
    private let descriptor: Int32
    /// The listening sockets the running ringd sent.
    private(set) var sockets: [Int32] = []
    private var isClosed = false

    /// Connects to the control socket at `path` and asks for the listening sockets.
    init(controlSocket path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessFailure("socket(SOCK_SEQPACKET): \(errnoName(errno))") }
        let connected = try Endpoint(unixPath: path).withSocketAddress { connect(descriptor, $0, $1) }
        guard connected == 0 else { throw HarnessFailure("connect \(path): \(errnoName(errno))") }
        try send("takeover 1")
    }

    deinit { close() }

    /// Receives messages until `end N`, keeping the sockets; returns N.
    func receiveSockets() throws -> Int {
        while true {
            let text = try receive()
            if text.hasPrefix("end ") { return Int(text.dropFirst(4)) ?? -1 }
            guard text == "sockets" else { throw HarnessFailure("expected `sockets` or `end N`, got \(text.debugDescription)") }
        }
    }

    /// The next message's text, waiting at most `timeout`.
    func receive(within timeout: Duration = .seconds(20)) throws -> String {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, Int32(timeout.components.seconds * 1000)) == 1 else {
            throw HarnessFailure("no message from ringd's control socket within \(timeout)")
        }
        var bytes = [UInt8](repeating: 0, count: 4096)
        var descriptors = [Int32](repeating: -1, count: Int(RINGD_DESCRIPTORS_PER_MESSAGE))
        var count: Int32 = 0
        let received = bytes.withUnsafeMutableBytes {
            ringd_receive_descriptors(descriptor, $0.baseAddress, UInt($0.count), &descriptors, &count)
        }
        sockets += descriptors.prefix(Int(count))
        guard received > 0 else { throw HarnessFailure("the control connection ended: \(received < 0 ? errnoName(errno) : "end of stream")") }
        return String(decoding: bytes[..<received], as: UTF8.self)
    }

    func send(_ text: String) throws {
        let sent = Array(text.utf8).withUnsafeBytes { ringd_send_descriptors(descriptor, $0.baseAddress, UInt($0.count), nil, 0) }
        guard sent >= 0 else { throw HarnessFailure("send \(text.debugDescription) on the control connection: \(errnoName(errno))") }
    }

    /// Closes the connection and the sockets it got, as a process that dies does.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        sockets.forEach { Glibc.close($0) }
        Glibc.close(descriptor)
    }
}
