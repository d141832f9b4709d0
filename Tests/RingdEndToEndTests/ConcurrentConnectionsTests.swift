// Many connections at once: 200 clients each send a message of random size (log-uniform from
// 1 B to 4 MiB) in random-sized writes while reading the echo, all from one poll loop.
import TestSupport
import Testing

@Suite("Concurrent connections")
struct ConcurrentConnectionsTests {
    static let connectionCount = 200
    static let messageSizes = 1...(4 * 1024 * 1024)
    static let writeSizes = 1...(256 * 1024)
    /// Log-uniform sizes average about 280 KiB, so this bound (checked, not assumed) keeps the
    /// total well inside what a debug ringd on two CI cores echoes quickly.
    static let totalByteLimit = 192 * 1024 * 1024

    @Test("200 connections, random sizes and random write splits, every byte back on every connection")
    func everyConnectionGetsItsBytesBack() throws {
        let seed = testSeed(default: 200)
        var random = SeededRandom(seed: seed)
        let sizes = (0..<Self.connectionCount).map { _ in random.logUniform(in: Self.messageSizes) }
        try #require(sizes.reduce(0, +) <= Self.totalByteLimit, "seed \(seed) draws \(sizes.reduce(0, +)) bytes")

        let ringd = try RunningRingd()
        defer { ringd.stop() }
        let conversations = try EchoConversation.open(to: ringd.endpoint, payloadSizes: sizes, writeSizes: Self.writeSizes, random: &random)

        EchoExchange.run(conversations)

        let problems = EchoExchange.problems(of: conversations)
        let failedConnections = problems.count
        #expect(
            failedConnections == 0,
            """
            \(problems.count) of \(Self.connectionCount) connections failed (seed \(seed)); the first:
            \(problems.prefix(5).joined(separator: "\n"))
            \(ringd.child.standardError)
            """)
    }
}
