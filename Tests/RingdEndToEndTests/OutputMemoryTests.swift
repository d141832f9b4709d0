// The global bound on queued output, `io.output_memory`: per-client caps set high, many clients
// that never read pin the worker's output memory until it runs low; ringd then cuts the ones
// furthest behind, and the clients that do read miss nothing. Without that, a full arena would
// stop every heartbeat for everyone.
import Glibc
import TestSupport
import Testing

@Suite("Output memory")
struct OutputMemoryTests {
    static let stalledCount = 8
    static let readerCount = 3

    @Test("8 broadcast subscribers that never read, with io.output_cap out of reach, are cut when io.output_memory runs low; 3 readers miss no heartbeat")
    func stalledSubscribersAreCutWhenMemoryRunsLow() throws {
        let ringd = try RunningRingd(extraArguments: [
            "--mode", "broadcast", "--workers", "1", "--set", "broadcast.interval=10ms",
            "--set", "io.output_memory=1MiB", "--set", "io.output_cap=1GiB", "--set", "io.output_soft_cap=0B",
            "--set", "broadcast.message=\"seq={seq} \(BroadcastModeTests.padding)\\n\"",
        ])
        defer { ringd.stop() }
        let readers = try (0..<Self.readerCount).map { _ in
            try LineConnection(connectingTo: ringd.endpoint, receiveBufferSize: 4 * 1024 * 1024)
        }
        let stalled = try (0..<Self.stalledCount).map { _ in
            try LineConnection(connectingTo: ringd.endpoint, receiveBufferSize: 64 * 1024)
        }
        let stalledPeers = try stalled.map { try $0.socket.localEndpoint }

        var tracks = [HeartbeatTrack](repeating: HeartbeatTrack(), count: Self.readerCount)
        func takeReaderLines() {
            for (index, reader) in readers.enumerated() {
                while let line = reader.nextLine() { tracks[index].add(line, seq: BroadcastModeTests.paddedHeartbeatSeq(line)) }
            }
        }
        let allCut = try LineConnection.pump(readers, within: .seconds(60)) {
            takeReaderLines()
            return stalledPeers.allSatisfy { TCPConnectionStates.serverHasClosed($0, server: ringd.endpoint) }
                || readers.contains(where: \.hasEnded)
        }
        let open = stalledPeers.filter { !TCPConnectionStates.serverHasClosed($0, server: ringd.endpoint) }
        #expect(allCut, "\(open.count) stalled subscribers still connected after 60 s; readers got \(tracks.map(\.count)) lines\n\(ringd.child.standardError)")

        // The readers go on: 100 more heartbeats each, consecutive.
        let countsAtCut = tracks.map(\.count)
        let readOn = try LineConnection.pump(readers, within: .seconds(30)) {
            takeReaderLines()
            return zip(tracks, countsAtCut).allSatisfy { $0.count >= $1 + 100 } || readers.contains(where: \.hasEnded)
        }
        // The readers stop reading here, so they close at once, before anything else: left open
        // while the test goes on, a loaded machine can give their queues time to grow until ringd
        // rightly cuts them too. What they read is already in `tracks` and `end`.
        readers.forEach { $0.socket.close() }
        #expect(readOn, "readers got \(tracks.map(\.count)) lines, \(countsAtCut) when the stalled ones were cut")
        for (index, reader) in readers.enumerated() {
            #expect(reader.end == nil, "reader \(index) was disconnected: \(reader.end!)\n\(ringd.child.standardError)")
            #expect(tracks[index].problems.isEmpty, "reader \(index): \(tracks[index].problems)")
        }
        // Memory stayed bounded: a 1 MiB arena, not the megabytes the stalled clients were owed.
        let resident = try ProcessResources.residentBytes(of: ringd.pid)
        #expect(resident < 64 << 20, "ringd's RSS is \(resident >> 20) MiB")

        stalled.forEach { $0.socket.close() }
        let counters = try ringd.child.terminateAndReadCounters()
        let report = counters.lines.joined(separator: "\n")
        // Every stalled subscriber was cut (checked above, on the server's side of each
        // connection); a reader may be cut too once it has stopped reading, before its close
        // reaches ringd, which a loaded machine can stretch. While they read, none was (`end`).
        let cuts = counters.total("cut_output_memory_full") ?? 0
        #expect((Self.stalledCount...Self.stalledCount + Self.readerCount).contains(cuts), "\(report)")
        #expect(counters.total("cut_output_cap") == 0 && counters.total("cut_soft_cap") == 0, "\(report)")
    }

    @Test("12 numbered-echo clients that send and never read pin io.output_memory; ringd cuts stalled ones and memory stays bounded, and a normal client gets every reply")
    func stalledEchoClientsAreCutWhenMemoryRunsLow() throws {
        let ringd = try RunningRingd(extraArguments: [
            "--workers", "1", "--set", "echo.line_numbers=true", "--set", "io.output_memory=4MiB",
        ])
        defer { ringd.stop() }
        // Each stalled client is owed up to io.output_limit (1 MiB) of replies, so four of them
        // would fill the 4 MiB arena by themselves.
        var stalled: [TestSocket] = []
        for _ in 0..<12 {
            let socket = try TestSocket(connectingTo: ringd.endpoint, receiveBufferSize: 64 * 1024)
            // Cut while still sending is one of the outcomes this test allows: ECONNRESET here.
            _ = try? socket.sendUntilStalled(filler(byteCount: 8 * 1024 * 1024))
            stalled.append(socket)
        }
        defer { stalled.forEach { $0.close() } }

        let client = try LineConnection(connectingTo: ringd.endpoint)
        for number in 1...200 {
            try client.send("line \(number)\n")
            let reply = try client.readLineText()
            try #require(reply == "\(number): line \(number)\n", "reply \(number)\n\(ringd.child.standardError)")
        }
        let resident = try ProcessResources.residentBytes(of: ringd.pid)
        #expect(resident < 96 << 20, "ringd's RSS is \(resident >> 20) MiB")

        client.socket.close()
        let counters = try ringd.child.terminateAndReadCounters()
        let cut = counters.total("cut_output_memory_full") ?? 0
        #expect(cut >= 1 && cut <= 12, "\(counters.lines.joined(separator: "\n"))")
    }
}
