// broadcast mode, the Tcl heartbeat exercise: "save a list of client channels and transmit a
// message every second". Every `broadcast.interval` each worker sends `broadcast.message`,
// by default `seq=S time=T clients=K\n`, to every client it holds. `seq` counts that worker's
// ticks, so a client sees S, S+1, S+2, ... from its first line, with no gap and no repeat, and
// clients on different workers may see different numbers. Whatever clients send is read and
// dropped. A client that does not read falls behind until `io.output_cap` bytes are queued for
// it, and is then cut off without holding up anyone else.
import Foundation
import Glibc
import TestSupport
import Testing

@Suite("broadcast mode", .serialized)
struct BroadcastModeTests {
    static func arguments(interval: String) -> [String] {
        ["--mode", "broadcast", "--workers", "2", "--set", "broadcast.interval=\(interval)"]
    }

    @Test("100 clients each get at least 10 heartbeats, well formed, with consecutive seq from their first")
    func hundredClientsSeeConsecutiveHeartbeats() throws {
        let ringd = try RunningRingd(extraArguments: Self.arguments(interval: "100ms"))
        defer { ringd.stop() }
        let clientCount = 100

        let connections = try (0..<clientCount).map { _ in try LineConnection(connectingTo: ringd.endpoint) }
        let (done, tracks) = try Self.readHeartbeats(10, on: connections, within: .seconds(30))

        #expect(done, "lines per client: \(tracks.map(\.count))")
        let problems = tracks.enumerated().flatMap { index, track in track.problems.map { "client \(index): \($0)" } }
        #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))\n\(ringd.child.standardError)")
        let ended = connections.indices.filter { connections[$0].hasEnded }
        #expect(ended.isEmpty, "clients \(ended) were disconnected: \(ended.map { connections[$0].end! })")
        #expect(tracks.allSatisfy { $0.count >= 10 }, "lines per client: \(tracks.map(\.count))")
    }

    @Test("5,000 subscribers connected at once to one worker with the default io keys: each gets 3 consecutive heartbeats, and the completion queue never overflowed")
    func fiveThousandSubscribersFitTheCompletionQueue() throws {
        // A tick sends to every subscriber in one iteration: a completion each. A completion
        // queue smaller than that overflows, which ends the multishot accept (new clients then
        // waited seconds in the backlog) and costs the kernel an allocation per completion.
        let subscriberCount = 5_000
        try raiseDescriptorLimit(to: subscriberCount + 500)
        let ringd = try RunningRingd(extraArguments: [
            "--mode", "broadcast", "--workers", "1", "--set", "broadcast.interval=100ms",
        ])
        defer { ringd.stop() }
        let connections = try (0..<subscriberCount).map { _ in try LineConnection(connectingTo: ringd.endpoint) }
        let (done, tracks) = try Self.readHeartbeats(3, on: connections, within: .seconds(120))
        let short = tracks.indices.filter { tracks[$0].count < 3 }
        #expect(done, "\(short.count) subscribers got fewer than 3 heartbeats, e.g. \(short.prefix(5))")
        let problems = tracks.enumerated().flatMap { index, track in track.problems.map { "subscriber \(index): \($0)" } }
        #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))")
        let ended = connections.indices.filter { connections[$0].hasEnded }
        #expect(ended.isEmpty, "\(ended.count) subscribers were disconnected, e.g. \(ended.first.map { connections[$0].end! }.debugDescription)")
        connections.forEach { $0.socket.close() }

        let counters = try ringd.child.terminateAndReadCounters()
        let report = counters.lines.joined(separator: "\n")
        #expect(counters.total("accepted") == subscriberCount, "\(report)")
        #expect(counters.total("completion_overflows") == 0, "\(report)")
    }

    @Test("io.completion_entries below server.max_connections: broadcast and relay warn at start, naming both and the size to raise it to; echo and the defaults do not")
    func smallCompletionQueueIsWarnedOf() throws {
        let small = ["--workers", "1", "--set", "io.submission_entries=64", "--set", "io.completion_entries=256",
                     "--set", "server.max_connections=1000"]
        let warning =
            "io.completion_entries (256) is below server.max_connections (1000): a MODE line to that many clients overflows"
            + " the completion queue, which stalls accepting; raise io.completion_entries to 1024"
        for mode in ["broadcast", "relay"] {
            let ringd = try RunningRingd(extraArguments: ["--mode", mode] + small)
            defer { ringd.stop() }
            try ringd.waitForLog(containing: warning.replacingOccurrences(of: "MODE", with: mode))
        }
        for arguments in [["--mode", "echo"] + small, ["--mode", "broadcast"], ["--mode", "relay"]] {
            let ringd = try RunningRingd(extraArguments: arguments)
            _ = try ringd.child.terminateAndReadCounters()
            #expect(!ringd.child.standardError.contains("io.completion_entries"), "\(arguments): \(ringd.child.standardError)")
        }
    }

    /// Reads default heartbeats on every connection until each has had `count`, or one ends.
    /// `done` says whether every connection got there; each track holds its connection's lines.
    static func readHeartbeats(_ count: Int, on connections: [LineConnection], within timeout: Duration) throws
        -> (done: Bool, tracks: [HeartbeatTrack])
    {
        var tracks = [HeartbeatTrack](repeating: HeartbeatTrack(), count: connections.count)
        let done = try LineConnection.pump(connections, within: timeout) {
            for (index, connection) in connections.enumerated() {
                while let line = connection.nextLine() {
                    tracks[index].add(line, seq: defaultHeartbeatSeq(line, maximumClients: connections.count))
                }
            }
            return tracks.allSatisfy { $0.count >= count } || connections.contains(where: \.hasEnded)
        }
        return (done && tracks.allSatisfy { $0.count >= count }, tracks)
    }

    @Test("the seed's client: connect, read 2 lines, close; 5 rounds, each gets 2 complete heartbeats")
    func repeatedShortConnections() throws {
        let ringd = try RunningRingd(extraArguments: Self.arguments(interval: "100ms"))
        defer { ringd.stop() }

        for round in 0..<5 {
            let connection = try LineConnection(connectingTo: ringd.endpoint)
            let lines = try connection.readLines(2, within: .seconds(10))
            let seqs = lines.map { Self.defaultHeartbeatSeq($0, maximumClients: 10) }
            #expect(seqs.allSatisfy { $0 != nil }, "round \(round): \(lines.map { quoted($0) })")
            if let first = seqs[0], let second = seqs[1] {
                #expect(second == first + 1, "round \(round): seq \(first) then \(second)")
            }
            connection.socket.close()
        }
    }

    @Test("broadcast.greeting is sent once on connect, before the heartbeats")
    func greetingBeforeHeartbeats() throws {
        let ringd = try RunningRingd(
            extraArguments: Self.arguments(interval: "50ms") + ["--set", #"broadcast.greeting="welcome {peer}\n""#])
        defer { ringd.stop() }

        for _ in 0..<3 {
            let connection = try LineConnection(connectingTo: ringd.endpoint)
            let peer = try connection.socket.localEndpoint
            let greeting = try connection.readLine(within: .seconds(10))
            #expect(greeting == Array("welcome 127.0.0.1 \(peer.port)\n".utf8), "got \(quoted(greeting))")
            var track = HeartbeatTrack()
            for line in try connection.readLines(5, within: .seconds(10)) {
                track.add(line, seq: Self.defaultHeartbeatSeq(line, maximumClients: 10))
            }
            #expect(track.problems.isEmpty, "\(track.problems)")
        }
    }

    @Test("a client that sends 16 MiB has it read and dropped, and keeps getting every heartbeat")
    func inputIsReadAndDropped() throws {
        let ringd = try RunningRingd(extraArguments: Self.arguments(interval: "20ms"))
        defer { ringd.stop() }
        let chatty = try LineConnection(connectingTo: ringd.endpoint)
        let quiet = try LineConnection(connectingTo: ringd.endpoint)
        var random = SeededRandom(seed: testSeed(default: 41))
        let payload = random.bytes(count: 16 * 1024 * 1024)
        try chatty.queue(payload)

        var tracks = [HeartbeatTrack(), HeartbeatTrack()]
        var linesAfterSending = 0
        let done = try LineConnection.pump([chatty, quiet], within: .seconds(60)) {
            for (index, connection) in [chatty, quiet].enumerated() {
                while let line = connection.nextLine() {
                    tracks[index].add(line, seq: Self.defaultHeartbeatSeq(line, maximumClients: 2))
                    if index == 0 && !chatty.wantsToWrite { linesAfterSending += 1 }
                }
            }
            return linesAfterSending >= 10 || chatty.hasEnded || quiet.hasEnded
        }

        #expect(done && linesAfterSending >= 10, "the chatty client got \(linesAfterSending) heartbeats after sending everything; still sending: \(chatty.wantsToWrite)")
        #expect(chatty.end == nil, "the chatty client was disconnected: \(chatty.end!)")
        #expect(quiet.end == nil, "the quiet client was disconnected: \(quiet.end!)")
        #expect(tracks[0].problems.isEmpty, "chatty: \(tracks[0].problems)")
        #expect(tracks[1].problems.isEmpty, "quiet: \(tracks[1].problems)")
    }

    /// `seq=S PADDING\n` with 8,000 bytes of padding: fast to fill a socket, easy to check.
    static let padding = String(repeating: "0123456789abcdef", count: 500)
    static let paddingLineEnd = Array(" \(padding)\n".utf8)
    static let readerCount = 5

    @Test("a client that never reads is cut off at io.output_cap while 5 readers miss no heartbeat")
    func slowConsumerIsCutOff() throws {
        let ringd = try RunningRingd(
            extraArguments: Self.arguments(interval: "20ms") + [
                "--set", "io.output_cap=64KiB", "--set", "broadcast.message=\"seq={seq} \(Self.padding)\\n\"",
            ])
        defer { ringd.stop() }
        // Readers get the largest receive buffer the kernel allows (net.core.rmem_max, 4 MiB by
        // default), set before connecting so the window scale fits it: a reader that this busy
        // test process leaves unscheduled for a while must not fall io.output_cap behind before
        // the slow client, whose receive buffer is small, does.
        let readers = try (0..<Self.readerCount).map { _ in
            try LineConnection(connectingTo: ringd.endpoint, receiveBufferSize: 4 * 1024 * 1024)
        }
        // A small receive buffer (a few heartbeats), so that the kernel holds little for it and
        // ringd's own queue for it reaches the cap soon.
        let slow = try LineConnection(connectingTo: ringd.endpoint, receiveBufferSize: 64 * 1024)
        let slowPeer = try slow.socket.localEndpoint

        var tracks = [HeartbeatTrack](repeating: HeartbeatTrack(), count: Self.readerCount)
        func takeReaderLines() {
            for (index, reader) in readers.enumerated() {
                while let line = reader.nextLine() { tracks[index].add(line, seq: Self.paddedHeartbeatSeq(line)) }
            }
        }

        // The lookup works: ringd's end of the slow client's connection is there, established.
        let seenEstablished = try LineConnection.pump(readers, within: .seconds(10)) {
            takeReaderLines()
            return TCPConnectionStates.serverSide(of: slowPeer, server: ringd.endpoint) == "ESTABLISHED"
        }
        try #require(
            seenEstablished,
            "ringd's end of \(slowPeer) is \(TCPConnectionStates.serverSide(of: slowPeer, server: ringd.endpoint) ?? "not in /proc/self/net/tcp")")

        // Phase one: read on the readers until the kernel shows ringd's end of the slow client's
        // connection closing or gone.
        let cutOff = try LineConnection.pump(readers, within: .seconds(30)) {
            takeReaderLines()
            return TCPConnectionStates.serverHasClosed(slowPeer, server: ringd.endpoint)
                || readers.contains(where: \.hasEnded)
        }
        let slowState = TCPConnectionStates.serverSide(of: slowPeer, server: ringd.endpoint)
        #expect(
            cutOff && TCPConnectionStates.serverHasClosed(slowPeer, server: ringd.endpoint),
            "ringd's end of the slow client's connection is still \(slowState ?? "gone") after 30 s; readers got \(tracks.map(\.count)) lines")

        // Phase two: the readers go on receiving every heartbeat after the cut.
        let countsAtCut = tracks.map(\.count)
        let readOn = try LineConnection.pump(readers, within: .seconds(20)) {
            takeReaderLines()
            return zip(tracks, countsAtCut).allSatisfy { $0.count >= $1 + 50 } || readers.contains(where: \.hasEnded)
        }
        #expect(readOn, "readers got \(tracks.map(\.count)) lines, \(countsAtCut) at the cut")
        for (index, reader) in readers.enumerated() {
            #expect(reader.end == nil, "reader \(index) was disconnected: \(reader.end!)\n\(ringd.child.standardError)")
            #expect(tracks[index].problems.isEmpty, "reader \(index): \(tracks[index].problems)")
        }

        // The slow client finally reads what reached its receive buffer before the cut (ringd
        // cuts with a reset, which drops what the kernel still held on its side): heartbeats in
        // order, and then the end of the connection.
        let (bytes, end) = try slow.readToEnd(within: .seconds(20))
        var slowTrack = HeartbeatTrack()
        var position = 0
        while let newline = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = Array(bytes[position...newline])
            slowTrack.add(line, seq: Self.paddedHeartbeatSeq(line))
            position = newline + 1
        }
        #expect(slowTrack.problems.isEmpty, "the slow client's queued lines: \(slowTrack.problems)")
        #expect(slowTrack.count >= 1, "the slow client got no complete heartbeat before the end: \(quoted(bytes))")
        // ringd may cut mid-heartbeat (a send already in flight); it must not send bytes after
        // a gap, so the tail is the start of one more heartbeat.
        let tail = bytes[position...]
        let next = Array("seq=\((slowTrack.last ?? 0) + 1) \(Self.padding)\n".utf8)
        #expect(tail.isEmpty || next.starts(with: tail), "after \(slowTrack.count) heartbeats: \(quoted(tail))")
        #expect(end == .endOfStream || end.isReset, "\(end)")
    }

    /// The S of `seq=S time=T clients=K\n`, with T as `{time}` renders and 1 <= K <= maximum;
    /// nil for anything else.
    static func defaultHeartbeatSeq(_ line: [UInt8], maximumClients: Int) -> UInt64? {
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("seq="), text.hasSuffix("\n") else { return nil }
        let fields = text.dropLast().split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 3, fields[1].hasPrefix("time="), fields[2].hasPrefix("clients="),
            isUnixTimeWithMicroseconds(fields[1].dropFirst("time=".count)),
            let clients = decimal(fields[2].dropFirst("clients=".count)), (1...maximumClients).contains(clients)
        else { return nil }
        return decimal(fields[0].dropFirst("seq=".count)).map(UInt64.init)
    }

    /// The S of `seq=S PADDING\n`; nil for anything else.
    static func paddedHeartbeatSeq(_ line: [UInt8]) -> UInt64? {
        guard line.starts(with: Array("seq=".utf8)), let space = line.firstIndex(of: UInt8(ascii: " ")),
            line.count - space == paddingLineEnd.count,
            line.withUnsafeBytes({ memcmp($0.baseAddress! + space, paddingLineEnd, paddingLineEnd.count) }) == 0
        else { return nil }
        return decimal(String(decoding: line[4..<space], as: UTF8.self)).map(UInt64.init)
    }
}

/// A decimal number without sign or leading zeros; nil for anything else.
func decimal(_ text: some StringProtocol) -> Int? {
    guard !text.isEmpty, text.allSatisfy(\.isASCIIDigit), text.count == 1 || text.first != "0" else { return nil }
    return Int(text)
}

/// One client's heartbeats: each must be well formed and numbered one more than the last.
struct HeartbeatTrack {
    private(set) var first: UInt64?
    private(set) var last: UInt64?
    private(set) var count = 0
    private(set) var problems: [String] = []

    mutating func add(_ line: [UInt8], seq: UInt64?) {
        defer { count += 1 }
        guard let seq else {
            record("line \(count + 1) is malformed: \(quoted(line, limit: 120))")
            return
        }
        if let last, seq != last + 1 {
            record("line \(count + 1): seq \(seq) after \(last)")
        }
        if first == nil { first = seq }
        last = seq
    }

    private mutating func record(_ problem: String) {
        if problems.count < 10 { problems.append(problem) }
    }
}
