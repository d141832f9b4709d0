// Batch waits (`io.batch_wait`, Linux 6.12): a worker that waits for several completions at once
// still answers every byte in order under load, and, once the load stops, sleeps instead of
// waking at every window. On a kernel without batch waits the key changes nothing, and the
// same assertions hold.
import Glibc
import TestSupport
import Testing

@Suite("Batch waits")
struct BatchWaitTests {
    @Test("with io.batch_wait=1ms, 20 pipelined conversations come back exact, and the idle worker then uses no CPU")
    func exactUnderLoadAndQuietWhenIdle() throws {
        // A long window, so that completions really wait for one another.
        let ringd = try RunningRingd(extraArguments: ["--workers", "2", "--set", "io.batch_wait=1ms"])
        defer { ringd.stop() }
        var random = SeededRandom(seed: testSeed(default: 611))
        let conversations = try (0..<20).map { _ in
            EchoConversation(
                socket: try TestSocket(connectingTo: ringd.endpoint),
                payload: random.bytes(count: random.logUniform(in: 1...(1 << 20))),
                plan: .random(SeededRandom(seed: random.next()), range: 1...4096))
        }
        EchoExchange.run(conversations)
        let problems = EchoExchange.problems(of: conversations)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))\n\(ringd.child.standardError)")
        conversations.forEach { $0.socket.close() }

        // Idle: a loop that kept waiting with a window would wake a thousand times a second.
        let idle = try TestSocket(connectingTo: ringd.endpoint)
        defer { idle.close() }
        let cpuBefore = try ProcessResources.cpuTime(of: ringd.pid)
        usleep(2_000_000)
        let cpuUsed = try ProcessResources.cpuTime(of: ringd.pid) - cpuBefore
        #expect(cpuUsed < .milliseconds(200), "ringd used \(cpuUsed) of CPU in 2 s with nothing to do")
    }
}
