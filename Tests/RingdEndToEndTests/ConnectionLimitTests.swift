// `server.max_connections`: the connection slots of one worker. With every slot taken, a new
// client gets `server.busy_message` and a clean close; the clients holding the slots are not
// disturbed, and a slot freed by a client that leaves is taken by the next one to connect.
import Glibc
import TestSupport
import Testing

extension HardeningTests {
    @Suite("server.max_connections")
    struct ConnectionLimitTests {
        static let arguments = [
            "--workers", "1", "--set", "server.max_connections=3", "--set", #"server.busy_message="busy\n""#,
        ]

        @Test("with 3 slots: clients 4 to 8 get exactly `busy\\n` and end of stream, the 3 keep echoing, a freed slot serves the next")
        func busyMessageBeyondTheLimit() throws {
            let ringd = try RunningRingd(extraArguments: Self.arguments)
            defer { ringd.stop() }
            let baseline = try ProcessDescriptors.count(of: ringd.pid)
            var random = SeededRandom(seed: testSeed(default: 201))

            let holders = try (0..<3).map { _ in try TestSocket(connectingTo: ringd.endpoint) }
            try Self.expectEcho(over: holders, random: &random, when: "before the limit is reached")

            for index in 0..<5 {
                let refused = try LineConnection(connectingTo: ringd.endpoint)
                let (bytes, end) = try refused.readToEnd(within: .seconds(10))
                #expect(bytes == Array("busy\n".utf8), "client \(4 + index) got \(quoted(bytes))")
                #expect(end == .endOfStream, "client \(4 + index)'s connection ended with \(end)")
                refused.socket.close()
            }
            try Self.expectEcho(over: holders, random: &random, when: "after 5 clients were turned away")

            // One holder leaves; once ringd has closed its socket, the slot is free.
            holders[0].close()
            let twoLeft = try ProcessDescriptors.waitForCount(of: ringd.pid, toBecome: baseline + 2)
            try #require(twoLeft == baseline + 2, "ringd holds \(twoLeft) descriptors; \(baseline) + 2 expected")
            let newcomer = try TestSocket(connectingTo: ringd.endpoint)
            try Self.expectEcho(over: [newcomer] + holders[1...], random: &random, when: "after a slot was freed")

            newcomer.close()
            holders.forEach { $0.close() }
            let settled = try ProcessDescriptors.waitForCount(of: ringd.pid, toBecome: baseline)
            #expect(settled == baseline, "ringd holds \(settled) descriptors; it held \(baseline) before any connection")

            let counters = try ringd.child.terminateAndReadCounters()
            let report = counters.lines.joined(separator: "\n")
            #expect(counters.byWorker.keys.sorted() == [0], "\(ringd.child.standardError)")
            #expect(counters.total("accepted") == 4, "3 holders and the newcomer:\n\(report)")
            #expect(counters.total("closed") == 4, "\(report)")
            #expect(counters.total("refused_table_full") == 5, "\(report)")
        }

        static func expectEcho(
            over sockets: [TestSocket], random: inout SeededRandom, when: String,
            sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            let conversations = sockets.map { EchoConversation(socket: $0, payload: random.bytes(count: 32 * 1024)) }
            EchoExchange.run(conversations)
            let problems = EchoExchange.problems(of: conversations)
            #expect(problems.isEmpty, "\(when): \(problems.joined(separator: "\n"))", sourceLocation: sourceLocation)
        }
    }
}
