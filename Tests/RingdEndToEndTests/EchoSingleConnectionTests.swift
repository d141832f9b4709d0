// Echo over one connection: payloads from one byte to 4 MiB come back byte for byte, one after
// another on the same connection.
import TestSupport
import Testing

@Suite("Echo over one connection")
struct EchoSingleConnectionTests {
    @Test("1 B, 1 KiB, 64 KiB and 4 MiB come back identical on one connection")
    func payloadsComeBackIdentical() throws {
        let ringd = try RunningRingd()
        defer { ringd.stop() }
        let socket = try TestSocket(connectingTo: ringd.endpoint)
        var random = SeededRandom(seed: testSeed(default: 1))

        for size in [1, 1024, 64 * 1024, 4 * 1024 * 1024] {
            let payload = random.bytes(count: size)
            let problem = EchoExchange.problem(echoing: payload, over: socket)
            #expect(problem == nil, "echoing \(size) bytes: \(problem ?? "")\n\(ringd.child.standardError)")
            if problem != nil { return }
        }
    }
}
