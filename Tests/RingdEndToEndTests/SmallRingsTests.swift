// The smallest rings the configuration allows (8 submissions, 32 completions) under 200 echo
// connections: far more completions arrive per iteration than the queue holds, so the kernel
// parks the rest, and submissions are flushed early whenever the submission queue fills. The
// contract: that only delays; no byte is lost, duplicated or reordered, and nothing hangs.
import Glibc
import Testing

@Suite("Small rings")
struct SmallRingsTests {
    @Test("io.submission_entries=8, io.completion_entries=32, 200 connections echoing 128 KiB: every byte back in order, the queue overflowed and no completion was dropped")
    func completionQueueOverflowLosesNothing() throws {
        let seed = testSeed(default: 832)
        var random = SeededRandom(seed: seed)
        let ringd = try RunningRingd(extraArguments: [
            "--workers", "1", "--set", "io.submission_entries=8", "--set", "io.completion_entries=32",
        ])
        defer { ringd.stop() }
        var conversations: [EchoConversation] = []
        for _ in 0..<200 {
            let socket = try TestSocket(connectingTo: ringd.endpoint)
            let plan = WritePlan.random(SeededRandom(seed: random.next()), range: 1...(16 * 1024))
            conversations.append(EchoConversation(socket: socket, payload: random.bytes(count: 128 * 1024), plan: plan))
        }

        EchoExchange.run(conversations)

        let problems = EchoExchange.problems(of: conversations)
        #expect(problems.isEmpty, "\(problems.count) of 200 connections failed (seed \(seed)): \(problems.prefix(3))\n\(ringd.child.standardError)")
        conversations.forEach { $0.socket.close() }

        ringd.child.send(signal: SIGTERM)
        let status = try ringd.child.requireExit(within: .seconds(15))
        #expect(status == .success, "\(status)\n\(ringd.child.outputSummary)")
        let counters = try WorkerCounters(parsing: ringd.child.standardError)
        let report = counters.lines.joined(separator: "\n")
        #expect((counters.total("completion queue overflowed") ?? 0) > 0, "the test did not overflow the queue:\n\(report)")
        #expect(counters.total("completions dropped") == 0, "\(report)")
        #expect(counters.total("accepted") == 200 && counters.total("closed") == 200, "\(report)")
    }
}
