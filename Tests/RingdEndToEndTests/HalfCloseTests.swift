// Half-close: after the client shuts down its write side, ringd still sends every byte it owes,
// and only then closes; the client reads exactly what it sent, then end of stream.
import TestSupport
import Testing

@Suite("Half-close")
struct HalfCloseTests {
    @Test(
        "write N bytes, shutdown(SHUT_WR), read: exactly N bytes then end of stream",
        arguments: [0, 1, 1000, 64 * 1024])
    func everythingOwedArrivesBeforeEndOfStream(size: Int) throws {
        let ringd = try RunningRingd()
        defer { ringd.stop() }
        let socket = try TestSocket(connectingTo: ringd.endpoint)
        var random = SeededRandom(seed: testSeed(default: 4) &+ UInt64(size))
        let payload = random.bytes(count: size)

        // Everything is written and the write side shut before a single byte is read, so ringd
        // sees end of stream while it still owes the whole payload.
        try socket.sendAll(payload)
        try socket.shutdownWrite()
        let echoed = try socket.receiveUntilEndOfStream()

        #expect(echoed.count == size, "\(ringd.child.standardError)")
        #expect(firstDifference(payload, echoed[...]) == nil)
    }

    @Test("4 MiB with reads during the writes, then shutdown(SHUT_WR): all of it, then end of stream")
    func largePayloadThenEndOfStream() throws {
        let ringd = try RunningRingd()
        defer { ringd.stop() }
        let socket = try TestSocket(connectingTo: ringd.endpoint)
        var random = SeededRandom(seed: testSeed(default: 44))
        let conversation = EchoConversation(
            socket: socket, payload: random.bytes(count: 4 * 1024 * 1024),
            plan: .random(SeededRandom(seed: random.next()), range: 1...(128 * 1024)), halfClosesWhenSent: true)

        EchoExchange.run([conversation])

        #expect(conversation.problem == nil, "\(conversation.problem ?? "")\n\(ringd.child.standardError)")
    }
}
