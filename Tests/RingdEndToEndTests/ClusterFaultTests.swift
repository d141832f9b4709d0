// What ringd does when the cluster's Redis misbehaves rather than vanishes: an error where a
// reply must succeed, AUTH refused, a Redis that stops answering, and a server that is not Redis
// at all. Each is logged, the connection is reset and tried again, counter clients get the
// unavailable message rather than a number nobody can vouch for, and ringd keeps running.
import Foundation
import Glibc
import TestSupport
import Testing

@Suite("cluster faults", .serialized)
struct ClusterFaultTests {
    @Test("-ERR for INCR (the counter key holds text): logged, unavailable, reset; numbers again once the key is fixed")
    func errorReplyResetsTheConnection() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        let ringd = try ClusterTests.host("counter", redis: redis.address)
        defer { ringd.stop() }
        try redis.command("SET", "ringd:counter", "not a number")

        #expect(try ClusterTests.counterReplies(1, from: [ringd]) == [ClusterTests.unavailable])
        try ringd.waitForLog(containing: "Redis answered INCR on the counter key with ERR value is not an integer")
        try redis.command("DEL", "ringd:counter")
        try ringd.waitForLog(containing: "connected to Redis", count: 3)
        #expect(ClusterTests.numbers(in: try ClusterTests.counterReplies(4, from: [ringd])).sorted() == Array(0..<4))
        #expect(ringd.child.isRunning)
    }

    @Test("AUTH: cluster.password is sent with HELLO; a wrong one is named in the log and the counter is unavailable")
    func authentication() throws {
        let redis = try RunningRedis(options: ["--requirepass", "s3cret"])
        defer { redis.stop() }
        let good = try ClusterTests.host("counter", redis: redis.address, ["cluster.password=s3cret"])
        defer { good.stop() }
        #expect(ClusterTests.numbers(in: try ClusterTests.counterReplies(3, from: [good])).sorted() == Array(0..<3))

        let wrong = try ClusterTests.host("counter", redis: redis.address, ["cluster.password=wrong"], waitForRedis: false)
        defer { wrong.stop() }
        try wrong.waitForLog(containing: "refused HELLO 3: WRONGPASS", count: 2)
        #expect(try ClusterTests.counterReplies(2, from: [wrong]) == Array(repeating: ClusterTests.unavailable, count: 2))
        #expect(try redis.command("GET", "ringd:counter") == "3")
    }

    @Test("a Redis that stops answering (SIGSTOP): waiting clients get the unavailable message; numbers again after SIGCONT")
    func stalledRedis() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        let ringd = try ClusterTests.host("counter", redis: redis.address)
        defer { ringd.stop() }
        #expect(ClusterTests.numbers(in: try ClusterTests.counterReplies(3, from: [ringd])).sorted() == Array(0..<3))

        redis.child.send(signal: SIGSTOP)
        let stalled = try ClusterTests.counterReplies(6, from: [ringd])
        try ringd.waitForLog(containing: "no reply within 2000 ms")
        redis.child.send(signal: SIGCONT)
        #expect(stalled == Array(repeating: ClusterTests.unavailable, count: 6))

        // The worker the clients waited on has reset its link; the other may have too, if its
        // idle PING was out when Redis stopped. Each must be connected before numbers can come.
        try ringd.waitForEveryWorkerConnected(2)
        // The stalled INCRs reach Redis when it resumes, so the numbers go on past them, each once.
        let after = ClusterTests.numbers(in: try ClusterTests.counterReplies(4, from: [ringd])).sorted()
        #expect(Set(after).count == 4 && after.allSatisfy { $0 >= 3 }, "\(after)")
    }

    @Test("an idle broadcast host notices a Redis that stopped answering (its PING goes unanswered), and connects again after SIGCONT")
    func idleLinkNoticesAStalledRedis() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        // Nothing to send: no counter clients, the heartbeat far away. Only the idle PING can
        // find out that Redis no longer answers.
        let ringd = try ClusterTests.host("broadcast", redis: redis.address, ["broadcast.interval=1h"])
        defer { ringd.stop() }
        redis.child.send(signal: SIGSTOP)
        try ringd.waitForLog(containing: "no reply within 2000 ms", within: .seconds(30))
        redis.child.send(signal: SIGCONT)
        try ringd.waitForLog(containing: "connected to Redis", count: 3, within: .seconds(30))
    }

    @Test("a server that answers with bytes that are not RESP: logged with the offset, reset, retried; ringd keeps serving")
    func garbageFromTheServer() throws {
        let impostor = try GarbageServer(reply: "HTTP/1.1 400 Bad Request\r\n\r\n")
        defer { impostor.stop() }
        let ringd = try ClusterTests.host("counter", redis: impostor.address, waitForRedis: false)
        defer { ringd.stop() }
        try ringd.waitForLog(containing: "Redis sent bytes that are not RESP: RESP protocol error at byte 0", count: 2)
        #expect(try ClusterTests.counterReplies(2, from: [ringd]) == Array(repeating: ClusterTests.unavailable, count: 2))
        try impostor.waitForConnections(4)  // retried after the reset, by each worker
        #expect(ringd.child.isRunning)
    }
}

/// A loopback TCP server that answers every connection with the same bytes and closes it: a
/// stand-in for a misconfigured `cluster.redis` that points at some other service.
final class GarbageServer {
    private let listener: Int32
    private let thread: Thread
    private let state: State
    let address: String

    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var connections = 0
        var stopped = false
    }

    init(reply: String) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        listener = descriptor
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && listen(descriptor, 16) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard listening else { throw HarnessFailure("listening on 127.0.0.1:0: \(errnoName(errno))") }
        self.address = "127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
        let state = State()
        self.state = state
        let bytes = Array(reply.utf8)
        thread = Thread {
            while true {
                let client = accept(descriptor, nil, nil)
                if client < 0 { return }
                _ = bytes.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(client)
                state.lock.withLock { state.connections += 1 }
            }
        }
        thread.start()
    }

    /// Waits until `count` connections have been answered.
    func waitForConnections(_ count: Int) throws {
        let deadline = Deadline(after: .seconds(20))
        while state.lock.withLock({ state.connections }) < count {
            guard !deadline.hasPassed else { throw HarnessFailure("only \(state.connections) connections to \(address)") }
            usleep(10_000)
        }
    }

    func stop() {
        // shutdown wakes the accept, which then fails and ends the thread.
        _ = shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}

extension RunningRingd {
    /// Waits until each of the first `workers` workers has a link to Redis: its last word on it
    /// in the log is `connected to Redis`, after any `Redis at ...` (unavailable, refused).
    func waitForEveryWorkerConnected(_ workers: Int, within timeout: Duration = .seconds(20)) throws {
        let deadline = Deadline(after: timeout)
        while true {
            let log = child.standardError
            let connected = (0..<workers).allSatisfy { worker in
                guard let up = log.range(of: "worker=\(worker): connected to Redis", options: .backwards) else { return false }
                guard let down = log.range(of: "worker=\(worker): Redis at ", options: .backwards) else { return true }
                return up.lowerBound > down.lowerBound
            }
            if connected { return }
            guard !deadline.hasPassed else {
                throw HarnessFailure("not every one of \(workers) workers is connected to Redis:\n\(log)")
            }
            usleep(20_000)
        }
    }
}
