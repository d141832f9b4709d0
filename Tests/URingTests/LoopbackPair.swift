// A connected TCP pair on 127.0.0.1, made with plain blocking calls, for driving a real ring,
// and the small helpers the ring tests share.
import CLinux
import Glibc
import Testing
import URing

struct LoopbackPair: ~Copyable {
    let listener: Int32
    let client: Int32
    let server: Int32

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                guard bind(listener, raw, length) == 0, listen(listener, 16) == 0, getsockname(listener, raw, &length) == 0 else {
                    throw SystemError("bind/listen", errno: errno)
                }
            }
        }
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) }
        }
        guard connected == 0 else { throw SystemError("connect", errno: errno) }
        let server = accept(listener, nil, nil)
        guard server >= 0 else { throw SystemError("accept", errno: errno) }
        self.listener = listener
        self.client = client
        self.server = server
    }

    /// Port of the listener, for tests that accept through the ring.
    var listenerPort: UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    deinit {
        close(client)
        close(server)
        close(listener)
    }
}

/// Waits for one completion on `ring` and returns it, releasing its slot.
func nextCompletion(_ ring: Ring) throws -> Completion {
    while ring.readyCompletions == 0 { try ring.submitAndWait(1) }
    let completion = ring.completion(at: 0)
    ring.advance(by: 1)
    return completion
}

/// An eventfd that is already readable, so that a poll on it completes as soon as it is submitted.
func readableEventfd() throws -> Int32 {
    let descriptor = ringd_eventfd()
    try #require(descriptor >= 0)
    var one: UInt64 = 1
    try #require(write(descriptor, &one, 8) == 8)
    return descriptor
}

/// A position-dependent pattern: a lost, duplicated or reordered byte changes the sequence.
func pattern(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8 &+ Int(seed)) }
}
