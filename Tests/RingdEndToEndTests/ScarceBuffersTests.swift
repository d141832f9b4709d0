// Receive buffers that run out all the time: two 512-byte buffers per worker and a 1 KiB output
// limit, under 50 connections sending at once. Every multishot recv keeps ending with ENOBUFS
// and back-pressure keeps pausing reads; the contract is that both only delay bytes, never
// lose, duplicate or reorder them.
import TestSupport
import Testing

@Suite("Scarce receive buffers")
struct ScarceBuffersTests {
    @Test("ENOBUFS and back-pressure on every connection lose no byte")
    func everyByteComesBackWithTwoBuffersPerWorker() throws {
        let seed = testSeed(default: 512)
        var random = SeededRandom(seed: seed)
        let ringd = try RunningRingd(extraArguments: [
            "--workers", "2",
            "--set", "io.buffer_count=2", "--set", "io.buffer_size=\"512B\"",
            "--set", "io.output_limit=\"1KiB\"",
        ])
        defer { ringd.stop() }
        let conversations = try EchoConversation.open(
            to: ringd.endpoint, payloadSizes: Array(repeating: 256 * 1024, count: 50), writeSizes: 1...(64 * 1024), random: &random)

        EchoExchange.run(conversations)

        let problems = EchoExchange.problems(of: conversations)
        #expect(problems.isEmpty, "\(problems.count) of 50 connections failed (seed \(seed)): \(problems.prefix(3)) \(ringd.child.standardError)")
    }
}
