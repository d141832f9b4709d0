// Line echo, the Perl server of Comer's client-server chapter:
//
//     while (<$client>) { print "[$name $port] $_"; print $client "$.: $_"; }
//
// With `echo.lines` ringd answers each complete line, whatever the read boundaries, with the
// line exactly as received (CRLF stays CRLF, NUL bytes stay), prefixed with `N: ` when
// `echo.line_numbers` is set, N counting this connection's lines from 1. A line longer than
// `echo.max_line` gets `error: line longer than N bytes\n` and the connection is closed, after
// the lines before it were answered. `echo.access_log` prints `[HOST PORT] line` on stdout.
import Glibc
import TestSupport
import Testing

@Suite("echo line mode")
struct EchoLinesTests {
    static let numbered = ["--workers", "2", "--set", "echo.lines=true", "--set", "echo.line_numbers=true"]
    static let unnumbered = ["--workers", "2", "--set", "echo.lines=true"]

    @Test("a line written one byte at a time is answered once, when its newline arrives")
    func lineSplitIntoSingleBytes() throws {
        let ringd = try RunningRingd(extraArguments: Self.numbered)
        defer { ringd.stop() }
        let connection = try LineConnection(connectingTo: ringd.endpoint)
        try connection.socket.disableNagle()

        for (index, line) in ["Here we go...\n", "Wow, a response!\r\n", "Goodbye\n"].enumerated() {
            for byte in line.utf8 {
                try connection.send([byte])
                // A pause between bytes, so they arrive in separate reads rather than coalesced;
                // nothing is asserted about it.
                usleep(1_000)
            }
            let reply = try connection.readLine(within: .seconds(10))
            #expect(reply == Array("\(index + 1): \(line)".utf8), "got \(quoted(reply))")
        }
        #expect(connection.unterminated.isEmpty, "unexpected bytes: \(quoted(connection.unterminated))")
    }

    @Test("many lines in one write: each answered in order, empty lines, CRLF and NUL bytes kept")
    func manyLinesInOneWrite() throws {
        let ringd = try RunningRingd(extraArguments: Self.numbered)
        defer { ringd.stop() }
        let connection = try LineConnection(connectingTo: ringd.endpoint)

        let lines: [[UInt8]] = [
            Array("a\n".utf8), Array("bb\n".utf8), Array("\n".utf8), Array("ccc\r\n".utf8), Array("\r\n".utf8),
            [0x64, 0x00, 0x65, 0x0A], [0x00, 0x0A], Array("tab\there \r\r\n".utf8), Array("ünïcödé\n".utf8),
        ]
        try connection.send(lines.flatMap { $0 })
        let expected = Self.numberedReplies(to: lines)
        let replies = try connection.readLines(lines.count, within: .seconds(10))
        #expect(replies.flatMap { $0 } == expected, "got \(quoted(replies.flatMap { $0 }))")
    }

    @Test("2,000 random lines in random write splits, reading while writing: every reply exact and in order")
    func randomLinesInRandomSplits() throws {
        let ringd = try RunningRingd(extraArguments: Self.numbered)
        defer { ringd.stop() }
        let seed = testSeed(default: 31)
        var random = SeededRandom(seed: seed)
        let lines = (0..<2_000).map { _ in Self.randomLine(random: &random) }

        // Three connections at once, each with its own split of the same lines, so numbering is
        // per connection and no connection's bytes leak into another's replies.
        let connections = try (0..<3).map { _ in try LineConnection(connectingTo: ringd.endpoint) }
        let payload = lines.flatMap { $0 }
        for connection in connections {
            var offset = 0
            while offset < payload.count {
                let size = min(random.logUniform(in: 1...4096), payload.count - offset)
                try connection.queue(Array(payload[offset..<offset + size]))
                offset += size
            }
        }
        let expected = Self.numberedReplies(to: lines)
        let done = try LineConnection.pump(connections, within: .seconds(30)) {
            connections.allSatisfy { $0.totalBytesReceived >= expected.count || $0.hasEnded }
        }
        #expect(done, "seed \(seed): received \(connections.map(\.totalBytesReceived)) of \(expected.count) bytes")
        for (index, connection) in connections.enumerated() {
            let replies = connection.takeAll()
            let differing = firstDifference(expected, replies[...])
            #expect(
                replies.count == expected.count && differing == nil,
                """
                seed \(seed), connection \(index): \(replies.count) of \(expected.count) bytes, first difference at \
                \(differing.map(String.init) ?? "none"): got \
                \(quoted(replies[(differing ?? replies.count)...].prefix(80))) expected \
                \(quoted(expected[(differing ?? replies.count)...].prefix(80)))
                """)
            #expect(connection.end == nil, "connection \(index) ended: \(connection.end!)")
        }
    }

    @Test("without echo.line_numbers the reply is the line itself, terminator and all")
    func unnumberedRepliesAreTheLines() throws {
        let ringd = try RunningRingd(extraArguments: Self.unnumbered)
        defer { ringd.stop() }
        let connection = try LineConnection(connectingTo: ringd.endpoint)
        try connection.socket.disableNagle()

        try connection.send("first\nsec")
        usleep(20_000)
        try connection.send("ond\r\n\nthird")
        usleep(20_000)
        try connection.send([0x00, 0x0A])
        let replies = try connection.readLines(4, within: .seconds(10))
        #expect(replies.flatMap { $0 } == Array("first\nsecond\r\n\nthird\0\n".utf8), "got \(quoted(replies.flatMap { $0 }))")
        #expect(connection.unterminated.isEmpty, "unexpected bytes: \(quoted(connection.unterminated))")
    }

    @Test("a last line without a newline is answered at end of stream, without a newline, then ringd closes")
    func lastLineWithoutNewlineAtEndOfStream() throws {
        let ringd = try RunningRingd(extraArguments: Self.numbered)
        defer { ringd.stop() }
        let connection = try LineConnection(connectingTo: ringd.endpoint)

        try connection.send("one\ntwo")
        #expect(try connection.readLine(within: .seconds(10)) == Array("1: one\n".utf8))
        try connection.socket.shutdownWrite()
        let (rest, end) = try connection.readToEnd(within: .seconds(10))
        #expect(rest == Array("2: two".utf8), "got \(quoted(rest))")
        #expect(end == .endOfStream)
    }

    @Test("a line of exactly echo.max_line bytes is answered; a longer one gets the error line and then the close")
    func lineLongerThanMaxLine() throws {
        let ringd = try RunningRingd(extraArguments: Self.numbered + ["--set", "echo.max_line=100"])
        defer { ringd.stop() }
        let connection = try LineConnection(connectingTo: ringd.endpoint)

        let longest = String(repeating: "x", count: 99) + "\r\n"  // 100 bytes before the "\n"
        let tooLong = String(repeating: "y", count: 101) + "\n"
        try connection.send("one\n" + longest + "two\n" + tooLong)
        let (bytes, end) = try connection.readToEnd(within: .seconds(10))
        let expected = "1: one\n2: \(longest)3: two\nerror: line longer than 100 bytes\n"
        #expect(bytes == Array(expected.utf8), "got \(quoted(bytes))")
        // Everything the client sent was read before the close (ringd had to read the whole
        // line to judge it), so the close is a FIN, not a reset of unread data.
        #expect(end == .endOfStream)
    }

    @Test("an over-long line is refused as soon as it passes echo.max_line, before its newline arrives")
    func overlongLineRefusedBeforeItsNewline() throws {
        let ringd = try RunningRingd(extraArguments: Self.numbered + ["--set", "echo.max_line=100"])
        defer { ringd.stop() }
        let connection = try LineConnection(connectingTo: ringd.endpoint)

        try connection.send("short\n" + String(repeating: "z", count: 60))
        #expect(try connection.readLine(within: .seconds(10)) == Array("1: short\n".utf8))
        try connection.send(String(repeating: "z", count: 41))  // 101 bytes, and no newline yet
        let (bytes, end) = try connection.readToEnd(within: .seconds(10))
        #expect(bytes == Array("error: line longer than 100 bytes\n".utf8), "got \(quoted(bytes))")
        #expect(end == .endOfStream)
    }

    @Test("echo.access_log prints `[127.0.0.1 PORT] line` on stdout for every line, per connection in order")
    func accessLogOnStandardOutput() throws {
        let ringd = try RunningRingd(extraArguments: Self.numbered + ["--set", "echo.access_log=true"])
        defer { ringd.stop() }
        let first = try LineConnection(connectingTo: ringd.endpoint)
        let second = try LineConnection(connectingTo: ringd.endpoint)
        let firstPeer = try first.socket.localEndpoint
        let secondPeer = try second.socket.localEndpoint

        let firstLines = ["Here we go...\n", "Wow, a response!\r\n", "\n", "Goodbye\n"]
        let secondLines = ["other client\n", "second line\n"]
        for (index, line) in firstLines.enumerated() {
            try first.send(line)
            #expect(try first.readLine(within: .seconds(10)) == Array("\(index + 1): \(line)".utf8))
            if index < secondLines.count {
                try second.send(secondLines[index])
                #expect(try second.readLine(within: .seconds(10)) == Array("\(index + 1): \(secondLines[index])".utf8))
            }
        }

        // A CR before the newline is dropped from the log, which has one entry per line.
        let expectedFirst = ["Here we go...", "Wow, a response!", "", "Goodbye"].map { "[\(firstPeer.peerText)] \($0)" }
        let expectedSecond = ["other client", "second line"].map { "[\(secondPeer.peerText)] \($0)" }
        let deadline = Deadline(after: .seconds(10))
        var logged: (first: [String], second: [String]) = ([], [])
        repeat {
            let lines = ringd.child.standardOutput.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            logged = (
                lines.filter { $0.hasPrefix("[\(firstPeer.peerText)] ") },
                lines.filter { $0.hasPrefix("[\(secondPeer.peerText)] ") }
            )
            if logged.first.count >= expectedFirst.count && logged.second.count >= expectedSecond.count { break }
            usleep(20_000)
        } while !deadline.hasPassed
        let whileRunning = ringd.child.standardOutput
        ringd.stop()
        #expect(
            logged.first == expectedFirst && logged.second == expectedSecond,
            "stdout while ringd ran:\n\(whileRunning)\n--- stdout after it stopped ---\n\(ringd.child.standardOutput)")
        #expect(!whileRunning.contains("\r"), "a CR reached the log")
    }

    @Test("one slot, three clients in turn: a line too long, then a partial line cut by a reset, leave nothing behind for the next")
    func aSlotsNextConnectionStartsClean() throws {
        // One worker with one slot, so every client gets the same slot (and its line framer),
        // once ringd has released it; until then a client gets `busy` and tries again.
        let ringd = try RunningRingd(extraArguments: [
            "--workers", "1", "--set", "echo.lines=true", "--set", "echo.line_numbers=true", "--set", "echo.max_line=64",
            "--set", "server.max_connections=1", "--set", #"server.busy_message="busy\n""#,
        ])
        defer { ringd.stop() }

        let first = try Self.servedConnection(to: ringd.endpoint, sending: "ok\n")
        try first.connection.send(String(repeating: "x", count: 65))  // no newline: the framer fails
        let (rest, end) = try first.connection.readToEnd(within: .seconds(10))
        #expect(first.reply == Array("1: ok\n".utf8), "got \(quoted(first.reply))")
        #expect(rest == Array("error: line longer than 64 bytes\n".utf8), "got \(quoted(rest))")
        #expect(end == .endOfStream)
        first.connection.socket.close()

        // A partial line left in the framer by a client that resets instead of finishing it.
        let second = try Self.servedConnection(to: ringd.endpoint, sending: "two\npart")
        #expect(second.reply == Array("1: two\n".utf8), "a failed framer was handed on: got \(quoted(second.reply))")
        try second.connection.socket.closeWithReset()

        let third = try Self.servedConnection(to: ringd.endpoint, sending: "hel", then: "lo\n")
        #expect(third.reply == Array("1: hello\n".utf8), "the last client's partial line was handed on: got \(quoted(third.reply))")
        third.connection.socket.close()

        let counters = try ringd.child.terminateAndReadCounters()
        #expect(counters.total("accepted") == 3, "\(counters.lines.joined(separator: "\n"))")
    }

    /// A connection ringd serves rather than turns away with `busy`: `text` (and `then`, in a
    /// second write) sent, and the first line that came back.
    static func servedConnection(
        to endpoint: Endpoint, sending text: String, then more: String? = nil
    ) throws -> (connection: LineConnection, reply: [UInt8]) {
        var lastRefusal = "busy"
        let deadline = Deadline(after: .seconds(20))
        while !deadline.hasPassed {
            let connection = try LineConnection(connectingTo: endpoint)
            do {
                try connection.send(text)
                if let more {
                    usleep(5_000)  // so that the two writes tend to arrive in separate reads
                    try connection.send(more)
                }
                let reply = try connection.readLine(within: .seconds(10))
                if reply != Array("busy\n".utf8) { return (connection, reply) }
            } catch {
                // A refused client's bytes may reach ringd after its close, and the reset that
                // answers them can overtake `busy`. Anything else (a timeout) is a failure.
                _ = try? connection.receiveAvailable()
                guard connection.hasEnded else { throw error }
                lastRefusal = "\(error)"
            }
            connection.socket.close()
            usleep(10_000)
        }
        throw HarnessFailure("ringd kept refusing (last: \(lastRefusal)): the one slot was never released")
    }

    /// `N: line` for each line, N from 1.
    static func numberedReplies(to lines: [[UInt8]]) -> [UInt8] {
        lines.enumerated().flatMap { index, line in Array("\(index + 1): ".utf8) + line }
    }

    /// A line of 0 to 300 random bytes without "\n" (NULs and CRs included), ending in LF or,
    /// one time in four, CRLF.
    static func randomLine(random: inout SeededRandom) -> [UInt8] {
        let length = Int.random(in: 0...300, using: &random)
        var line = random.bytes(count: length).map { $0 == UInt8(ascii: "\n") ? UInt8(ascii: "n") : $0 }
        if Int.random(in: 0..<4, using: &random) == 0 { line.append(UInt8(ascii: "\r")) }
        line.append(UInt8(ascii: "\n"))
        return line
    }
}
