// Access control: `access.deny` and `access.allow` are CIDR lists checked against each client's
// address as it is accepted. A refused client is closed at once, before any service byte (it
// sees end of stream or a reset, and nothing else); an admitted one is served as usual. ringd
// listens on 127.0.0.1 and ::1 here, so one server has a refused and an admitted address.
import TestSupport
import Testing

@Suite("Access control")
struct AccessControlTests {
    static let listen = ["127.0.0.1:0", "[::1]:0"]

    @Test(
        "access.deny=127.0.0.0/8: a 127.0.0.1 client is closed without a byte, a ::1 client is echoed",
        .enabled(if: Endpoint.ipv6LoopbackAvailable, "::1 cannot be bound on this machine"))
    func denyListRefusesIPv4Loopback() throws {
        let ringd = try RunningRingd(
            listen: Self.listen, extraArguments: ["--workers", "2", "--set", "access.deny=127.0.0.0/8"])
        defer { ringd.stop() }
        try Self.expectRefusedThenServed(ringd)
    }

    @Test(
        #"access.allow=["::1/128"]: a 127.0.0.1 client is refused, a ::1 client is echoed"#,
        .enabled(if: Endpoint.ipv6LoopbackAvailable, "::1 cannot be bound on this machine"))
    func allowListAdmitsOnlyIPv6Loopback() throws {
        let ringd = try RunningRingd(
            listen: Self.listen, extraArguments: ["--workers", "2", "--set", #"access.allow=["::1/128"]"#])
        defer { ringd.stop() }
        try Self.expectRefusedThenServed(ringd)
    }

    @Test(
        "a refused client in greet mode gets no greeting; an admitted one does",
        .enabled(if: Endpoint.ipv6LoopbackAvailable, "::1 cannot be bound on this machine"))
    func refusedClientGetsNoGreeting() throws {
        let ringd = try RunningRingd(
            listen: Self.listen,
            extraArguments: ["--mode", "greet", "--workers", "2", "--set", "access.deny=127.0.0.0/8"])
        defer { ringd.stop() }
        let (ipv4, ipv6) = try Self.endpoints(of: ringd)

        for _ in 0..<10 {
            let refused = try LineConnection(connectingTo: ipv4)
            let (bytes, _) = try refused.readToEnd(within: .seconds(10))
            #expect(bytes.isEmpty, "a refused client got \(quoted(bytes))")
        }
        let admitted = try LineConnection(connectingTo: ipv6)
        let peer = try admitted.socket.localEndpoint
        let (bytes, end) = try admitted.readToEnd(within: .seconds(10))
        #expect(bytes == Array("Hello from ringd, ::1 \(peer.port)\n".utf8), "got \(quoted(bytes))")
        #expect(end == .endOfStream)
    }

    /// Refused IPv4 clients (silent ones, and ones that send first) see no byte and the end of the
    /// connection; IPv6 clients are echoed; ringd lets go of every refused connection.
    static func expectRefusedThenServed(_ ringd: RunningRingd) throws {
        let (ipv4, ipv6) = try endpoints(of: ringd)
        let baseline = try ProcessDescriptors.count(of: ringd.pid)

        for index in 0..<20 {
            let refused = try LineConnection(connectingTo: ipv4)
            if index.isMultiple(of: 2) {
                // A client that speaks first: its bytes must not come back.
                try? refused.send("hello, anyone?\n")
            }
            let (bytes, end) = try refused.readToEnd(within: .seconds(10))
            #expect(bytes.isEmpty, "refused client \(index) got \(quoted(bytes)) then \(end)")
            refused.socket.close()
        }

        var random = SeededRandom(seed: testSeed(default: 61))
        let conversations = try (0..<4).map { _ in
            EchoConversation(socket: try TestSocket(connectingTo: ipv6), payload: random.bytes(count: 64 * 1024))
        }
        EchoExchange.run(conversations)
        let problems = EchoExchange.problems(of: conversations)
        let failedConnections = problems.count
        #expect(failedConnections == 0, "\(problems.joined(separator: "\n"))\n\(ringd.child.standardError)")

        conversations.forEach { $0.socket.close() }
        let settled = try ProcessDescriptors.waitForCount(of: ringd.pid, toBecome: baseline)
        #expect(settled == baseline, "ringd holds \(settled) descriptors; it held \(baseline) before any connection")
    }

    static func endpoints(of ringd: RunningRingd) throws -> (ipv4: Endpoint, ipv6: Endpoint) {
        let ipv4 = try #require(ringd.endpoints.first { !$0.isIPv6 }, "\(ringd.listeningLines)")
        let ipv6 = try #require(ringd.endpoints.first { $0.isIPv6 }, "\(ringd.listeningLines)")
        return (ipv4, ipv6)
    }
}
