// The smallest rings the configuration allows (8 submissions, 32 completions) under 200 echo
// connections: far more completions arrive per iteration than the queue holds, so the kernel
// parks the rest, and submissions are flushed early whenever the submission queue fills. The
// contract: that only delays; no byte is lost, duplicated or reordered, and nothing hangs.
import Glibc
import TestSupport
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
        let conversations = try EchoConversation.open(
            to: ringd.endpoint, payloadSizes: Array(repeating: 128 * 1024, count: 200), writeSizes: 1...(16 * 1024), random: &random)

        EchoExchange.run(conversations)

        let problems = EchoExchange.problems(of: conversations)
        #expect(problems.isEmpty, "\(problems.count) of 200 connections failed (seed \(seed)): \(problems.prefix(3))\n\(ringd.child.standardError)")
        conversations.forEach { $0.socket.close() }

        let counters = try ringd.child.terminateAndReadCounters()
        let report = counters.lines.joined(separator: "\n")
        #expect((counters.total("completion_overflows") ?? 0) > 0, "the test did not overflow the queue:\n\(report)")
        #expect(counters.total("completions_dropped") == 0, "\(report)")
        #expect(counters.total("accepted") == 200 && counters.total("closed") == 200, "\(report)")
    }
}
