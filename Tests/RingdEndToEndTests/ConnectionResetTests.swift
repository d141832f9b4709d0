// Clients that reset mid-stream: SO_LINGER {1, 0} and close while data is in flight both ways.
// ringd must drop only those connections: the other clients get every byte, a new connection
// still echoes, and ringd's descriptor count returns to what it was before.
import TestSupport
import Testing

@Suite("Connection reset by the client")
struct ConnectionResetTests {
    static let steadyConnectionCount = 8
    static let resettingClientCount = 12

    @Test("resetting clients do not disturb the others, and their descriptors are released")
    func resetsAreContained() throws {
        let ringd = try RunningRingd()
        defer { ringd.stop() }
        let baseline = try ProcessDescriptors.count(of: ringd.pid)
        var random = SeededRandom(seed: testSeed(default: 5))

        let steadySockets = try (0..<Self.steadyConnectionCount).map { _ in
            try TestSocket(connectingTo: ringd.endpoint)
        }
        // Phase one runs on another thread while the resets happen; phase two runs on the same
        // connections afterwards, so they are certainly open across every reset.
        let phaseOne = BackgroundExchange(
            conversations: Self.steadyConversations(over: steadySockets, random: &random))
        for index in 0..<Self.resettingClientCount {
            try Self.resetMidStream(ringd.endpoint, waitForEcho: index.isMultiple(of: 2), random: &random)
        }
        let phaseOneProblems = try phaseOne.join()
        let phaseTwo = Self.steadyConversations(over: steadySockets, random: &random)
        EchoExchange.run(phaseTwo)

        let problems = phaseOneProblems + EchoExchange.problems(of: phaseTwo)
        let failedConnections = problems.count
        #expect(failedConnections == 0, "\(problems.joined(separator: "\n"))\n\(ringd.child.standardError)")

        let newcomer = try TestSocket(connectingTo: ringd.endpoint)
        let newcomerProblem = EchoExchange.problem(echoing: random.bytes(count: 64 * 1024), over: newcomer)
        #expect(newcomerProblem == nil, "a new connection after the resets: \(newcomerProblem ?? "")")

        newcomer.close()
        steadySockets.forEach { $0.close() }
        let settled = try ProcessDescriptors.waitForCount(of: ringd.pid, toBecome: baseline)
        #expect(settled == baseline, "ringd holds \(settled) descriptors; it held \(baseline) before any connection")
    }

    static func steadyConversations(over sockets: [TestSocket], random: inout SeededRandom) -> [EchoConversation] {
        sockets.map { socket in
            EchoConversation(
                socket: socket, payload: random.bytes(count: 1024 * 1024),
                plan: .random(SeededRandom(seed: random.next()), range: 1...(16 * 1024)))
        }
    }

    /// Connects, writes up to 1 MiB without reading (so ringd's replies pile up in this socket's
    /// receive buffer), optionally waits for the first echoed bytes, then resets the connection.
    static func resetMidStream(_ endpoint: Endpoint, waitForEcho: Bool, random: inout SeededRandom) throws {
        let socket = try TestSocket(connectingTo: endpoint)
        _ = try socket.sendUntilFull(random.bytes(count: 1024 * 1024))
        if waitForEcho {
            try socket.requireReadable()
        }
        try socket.closeWithReset()
    }
}
