// Bulk transfer through every send and receive path: 64 MiB on one connection written far ahead
// of the echo, random write splits, many large conversations at once, and pipelined lines (the
// rendered-output path), each with every optional path it can take on and off (gathered sends;
// receive bundles, limited ones for raw echo; raw echo's bulk buffers), so the fallback a kernel
// without a feature takes is served and checked here too.
import TestSupport
import Testing

@Suite("Bulk transfer")
struct BulkTransferTests {
    /// Raw echo's optional paths, as `--set` pairs: each feature on and off, without the
    /// fourth combination, since the large raw cases are the slowest here.
    static let rawPaths: [[String]] = [
        ["io.send_gather=1", "io.receive_bundles=false"],
        ["io.send_gather=32", "io.receive_bundles=false"],
        // Limited bundles, in the main buffers only, then with bulk buffers (the default), then
        // with a bulk pool so small that streaming clients keep finding it dry.
        ["io.send_gather=32", "io.receive_bundles=true", "io.bulk_buffer_count=0"],
        ["io.send_gather=32", "io.receive_bundles=true"],
        ["io.send_gather=32", "io.receive_bundles=true", "io.bulk_buffer_count=4"],
    ]

    /// One entry per combination of the optional paths of a line service.
    static let paths: [[String]] = [
        ["io.send_gather=1", "io.receive_bundles=false"],
        ["io.send_gather=1", "io.receive_bundles=true"],
        ["io.send_gather=32", "io.receive_bundles=false"],
        ["io.send_gather=32", "io.receive_bundles=true"],
    ]

    static func start(_ path: [String], mode: String = "echo", workers: Int = 1, extra: [String] = []) throws -> RunningRingd {
        let arguments = ["--workers", String(workers), "--mode", mode] + (path + extra).flatMap { ["--set", $0] }
        return try RunningRingd(extraArguments: arguments)
    }

    @Test("64 MiB on one connection in random writes comes back byte for byte", arguments: rawPaths)
    func sixtyFourMebibytes(path: [String]) throws {
        let ringd = try Self.start(path)
        defer { ringd.stop() }
        var random = SeededRandom(seed: testSeed(default: 64))
        let socket = try TestSocket(connectingTo: ringd.endpoint)
        let plan = WritePlan.random(SeededRandom(seed: random.next()), range: 1...(1 << 20))
        let conversation = EchoConversation(socket: socket, payload: random.bytes(count: 64 << 20), plan: plan)
        EchoExchange.run([conversation])
        #expect(conversation.problem == nil, "\(path): \(conversation.problem ?? "")\n\(ringd.child.standardError)")
    }

    @Test("40 connections of 1 MiB to 4 MiB at once, random splits, two workers", arguments: rawPaths)
    func manyLargeConversations(path: [String]) throws {
        let ringd = try Self.start(path, workers: 2)
        defer { ringd.stop() }
        var random = SeededRandom(seed: testSeed(default: 40))
        let sizes = (0..<40).map { _ in random.logUniform(in: (1 << 20)...(4 << 20)) }
        let conversations = try EchoConversation.open(
            to: ringd.endpoint, payloadSizes: sizes, writeSizes: 1...(512 << 10), random: &random)
        EchoExchange.run(conversations)
        let problems = EchoExchange.problems(of: conversations)
        #expect(problems.isEmpty, "\(path): \(problems.count) of 40 failed: \(problems.prefix(3))\n\(ringd.child.standardError)")
    }

    @Test("200,000 numbered lines written ahead of the replies come back in order", arguments: paths)
    func pipelinedNumberedLines(path: [String]) throws {
        let ringd = try Self.start(path, extra: ["echo.lines=true", "echo.line_numbers=true"])
        defer { ringd.stop() }
        var random = SeededRandom(seed: testSeed(default: 7))
        var input: [UInt8] = []
        var expected: [UInt8] = []
        for index in 1...200_000 {
            let line = "line \(index) " + String(repeating: "y", count: Int.random(in: 0...60, using: &random)) + "\n"
            input += line.utf8
            expected += "\(index): \(line)".utf8
        }
        let socket = try TestSocket(connectingTo: ringd.endpoint)
        let conversation = EchoConversation(
            socket: socket, payload: input, plan: .random(SeededRandom(seed: random.next()), range: 1...(256 << 10)),
            reply: expected)
        EchoExchange.run([conversation])
        #expect(conversation.problem == nil, "\(path): \(conversation.problem ?? "")\n\(ringd.child.standardError)")
    }

    @Test(
        "a client that streams, then trades small messages, then streams again: byte for byte, its large reads in bulk buffers when there are some, its small ones not",
        arguments: [64, 0])
    func streamingThenSmallThenStreaming(bulkBuffers: Int) throws {
        let ringd = try Self.start(
            ["io.receive_bundles=true", "io.bulk_buffer_count=\(bulkBuffers)", "metrics.listen=127.0.0.1:0"])
        defer { ringd.stop() }
        let metrics = try ringd.requireMetricsEndpoint()
        var sent = 0
        /// Bytes read into bulk buffers once the workers have published every byte sent so far.
        func bulkBytes() throws -> Int {
            try MetricsSample.scrape(metrics) { $0.total("ringd_bytes_received_total") == sent }
                .total("ringd_bulk_bytes_received_total")
        }
        var random = SeededRandom(seed: testSeed(default: 12))
        let socket = try TestSocket(connectingTo: ringd.endpoint)
        defer { socket.close() }
        /// Echoes `payload` in writes of `plan` and waits for all of it back, byte for byte.
        func exchange(_ payload: [UInt8], plan: WritePlan, _ what: String) {
            let conversation = EchoConversation(socket: socket, payload: payload, plan: plan)
            EchoExchange.run([conversation])
            #expect(conversation.problem == nil, "\(what): \(conversation.problem ?? "")\n\(ringd.child.standardError)")
            sent += payload.count
        }
        func stream(_ byteCount: Int) {
            let plan = WritePlan.random(SeededRandom(seed: random.next()), range: (64 << 10)...(1 << 20))
            exchange(random.bytes(count: byteCount), plan: plan, "\(byteCount) bytes streamed")
        }
        stream(8 << 20)
        let afterStreaming = try bulkBytes()
        // Small round trips, one at a time: each is a read far below a quarter of a bulk
        // buffer, which moves the client back to the main buffers.
        for round in 0..<500 {
            let message = random.bytes(count: 1 + round % 300)
            exchange(message, plan: .fixed(message.count), "round \(round)")
        }
        // At most the first eight small reads (of at most 300 bytes) went to bulk buffers.
        let afterSmall = try bulkBytes()
        #expect(afterSmall - afterStreaming <= 8 * 300, "bulk bytes \(afterStreaming) after streaming, \(afterSmall) after")
        if bulkBuffers > 0 {
            #expect(afterStreaming > 0)
        }
        stream(8 << 20)
        socket.close()
        let counters = try ringd.child.terminateAndReadCounters()
        let bulkBytesReceived = counters.total("bulk_bytes_received") ?? -1
        if bulkBuffers > 0 {
            #expect(bulkBytesReceived > 0, "\(counters.lines)")
        } else {
            #expect(bulkBytesReceived == 0, "\(counters.lines)")
        }
        #expect(counters.total("bytes_received") == counters.total("bytes_sent"), "\(counters.lines)")
    }
}
