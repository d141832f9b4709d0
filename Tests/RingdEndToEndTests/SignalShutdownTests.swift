// Shutdown on a signal: SIGTERM or SIGINT makes ringd exit with status 0, even with clients
// connected and replies still owed.
import Glibc
import TestSupport
import Testing

@Suite("Shutdown on SIGTERM and SIGINT")
struct SignalShutdownTests {
    @Test("ringd exits 0 on the signal with connections open", arguments: [SIGTERM, SIGINT])
    func exitsZeroWithConnectionsOpen(signal: Int32) throws {
        let ringd = try RunningRingd()
        defer { ringd.stop() }
        var random = SeededRandom(seed: testSeed(default: 8))

        // Idle connections that have already echoed, so ringd has certainly accepted them...
        let idle = try (0..<4).map { _ in try TestSocket(connectingTo: ringd.endpoint) }
        for socket in idle {
            let problem = EchoExchange.problem(echoing: random.bytes(count: 1024), over: socket)
            try #require(problem == nil, "before the signal: \(problem ?? "")")
        }
        // ...and one that sent a lot without reading, so ringd has replies it cannot deliver.
        let busy = try TestSocket(connectingTo: ringd.endpoint)
        _ = try busy.sendUntilFull(random.bytes(count: 1024 * 1024))
        try busy.requireReadable()

        ringd.child.send(signal: signal)
        let status = try ringd.child.requireExit(within: .seconds(20))

        #expect(status == .success, "after \(signalName(signal)): \(status)\n\(ringd.child.outputSummary)")
    }
}
