// Receive buffers that run out all the time: two 512-byte buffers per worker and a 1 KiB output
// limit, under 50 connections sending at once. Every multishot recv keeps ending with ENOBUFS
// and back-pressure keeps pausing reads; the contract is that both only delay bytes, never
// lose, duplicate or reorder them.
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
        var conversations: [EchoConversation] = []
        for _ in 0..<50 {
            let socket = try TestSocket(connectingTo: ringd.endpoint)
            let plan = WritePlan.random(SeededRandom(seed: random.next()), range: 1...(64 * 1024))
            conversations.append(EchoConversation(socket: socket, payload: random.bytes(count: 256 * 1024), plan: plan))
        }

        EchoExchange.run(conversations)

        let problems = EchoExchange.problems(of: conversations)
        #expect(problems.isEmpty, "\(problems.count) of 50 connections failed (seed \(seed)): \(problems.prefix(3)) \(ringd.child.standardError)")
    }
}
