// IPv6: ringd listens on [::1], prints the address in brackets, and echoes over it.
import TestSupport
import Testing

@Suite("IPv6 listen address")
struct IPv6ListenTests {
    @Test(
        "--listen [::1]:0 prints a bracketed address and echoes",
        .enabled(if: Endpoint.ipv6LoopbackAvailable, "::1 cannot be bound on this machine"))
    func echoesOverIPv6Loopback() throws {
        let ringd = try RunningRingd(listen: ["[::1]:0"])
        defer { ringd.stop() }

        #expect(ringd.endpoint.host == "::1")
        #expect(ringd.listeningLines.allSatisfy { $0.contains("[::1]:\(ringd.endpoint.port)") }, "\(ringd.listeningLines)")
        let socket = try TestSocket(connectingTo: ringd.endpoint)
        var random = SeededRandom(seed: testSeed(default: 6))
        let problem = EchoExchange.problem(echoing: random.bytes(count: 256 * 1024), over: socket)
        #expect(problem == nil, "\(problem ?? "")\n\(ringd.child.standardError)")
    }
}
