// ring-client end to end against the built ringd in each of its modes (issue 4): `loop` on
// broadcast, counter and greet, `talk` on numbered echo and relay, and every `bench` against the
// mode it is made for. Each run is bounded by a timeout; counts are exact wherever the tool
// reports them, and no duration is asserted.
import Foundation
import TestSupport
import Testing

@Suite("ring-client against ringd's modes")
struct AgainstRingdModesTests {
    // MARK: - loop

    @Test("loop on broadcast: 5 rounds of 2 heartbeats, each well formed, consecutive within a round")
    func loopOnBroadcast() throws {
        let ringd = try RunningRingd(workers: 2, mode: "broadcast", settings: ["broadcast.interval": "50ms"])
        let run = try runClient(["loop", "127.0.0.1", String(ringd.port), "--rounds", "5", "--lines", "2",
                                 "--pause", "100ms"], timeout: .seconds(30))
        #expect(run.status == .success, "\(run)")
        #expect(run.outputLines.count == 10, "\(run)")
        for round in 1...5 {
            let lines = run.outputLines.dropFirst((round - 1) * 2).prefix(2)
            let heartbeats = lines.compactMap { Heartbeat(parsing: $0, round: round) }
            #expect(heartbeats.count == 2, "round \(round) is not two heartbeats: \(run)")
            guard heartbeats.count == 2 else { continue }
            // One connection sees its worker's ticks one after the other.
            #expect(heartbeats[1].seq == heartbeats[0].seq + 1, "round \(round): \(run)")
            // {clients} counts the connections of all workers, and the previous round's connection
            // may not have been seen closing yet (ring-client closes it just before the next
            // connect), so only "at least this one" holds without timing.
            #expect(heartbeats.allSatisfy { $0.clients >= 1 }, "round \(round): \(run)")
        }
    }

    @Test("loop on counter: the count rises by one per round, from 0")
    func loopOnCounter() throws {
        let ringd = try RunningRingd(workers: 2, mode: "counter")
        let run = try runClient(["loop", "127.0.0.1", String(ringd.port), "--rounds", "5", "--lines", "1",
                                 "--pause", "10ms"], timeout: .seconds(30))
        #expect(run.status == .success, "\(run)")
        #expect(run.outputLines == (1...5).map { "round \($0): \($0 - 1) connections before you" }, "\(run)")
    }

    @Test("loop on greet: every round is greeted with the client's own address")
    func loopOnGreet() throws {
        let ringd = try RunningRingd(workers: 2, mode: "greet")
        let run = try runClient(["loop", "127.0.0.1", String(ringd.port), "--rounds", "3", "--lines", "1",
                                 "--pause", "10ms"], timeout: .seconds(30))
        #expect(run.status == .success, "\(run)")
        #expect(run.outputLines.count == 3, "\(run)")
        for (index, line) in run.outputLines.enumerated() {
            let prefix = "round \(index + 1): Hello from ringd, 127.0.0.1 "
            #expect(line.hasPrefix(prefix) && Int(line.dropFirst(prefix.count)) != nil, "\(run)")
        }
    }

    // MARK: - talk

    @Test("talk on echo with line numbers: `1: hello`, `2: world`, then exit 0 at end of input")
    func talkOnNumberedEcho() throws {
        let ringd = try RunningRingd(workers: 2, mode: "echo", settings: ["echo.lines": "true", "echo.line_numbers": "true"])
        let run = try runClient(["talk", "127.0.0.1", String(ringd.port)], standardInput: "hello\nworld\n",
                                timeout: .seconds(30))
        #expect(run.status == .success, "\(run)")
        #expect(run.standardOutput == "1: hello\n2: world\n", "\(run)")
    }

    @Test("talk on echo with line numbers: 200 lines come back numbered, in order")
    func talkOnNumberedEchoManyLines() throws {
        let ringd = try RunningRingd(workers: 2, mode: "echo", settings: ["echo.lines": "true", "echo.line_numbers": "true"])
        let input = (1...200).map { "line \($0) of 200\n" }.joined()
        let run = try runClient(["talk", "127.0.0.1", String(ringd.port)], standardInput: input, timeout: .seconds(30))
        #expect(run.status == .success, "\(run)")
        #expect(run.standardOutput == (1...200).map { "\($0): line \($0) of 200\n" }.joined(), "\(run)")
    }

    @Test("talk on relay: welcome, rename notice, and /quit closes, exit 0")
    func talkOnRelay() throws {
        // One worker, so the first client is client1.
        let ringd = try RunningRingd(workers: 1, mode: "relay")
        let run = try runClient(["talk", "127.0.0.1", String(ringd.port)], standardInput: "/nick bob\nhi\n/quit\n",
                                timeout: .seconds(30))
        #expect(run.status == .success, "\(run)")
        #expect(run.standardOutput == "* you are client1\n* client1 is now bob\n", "\(run)")
    }

    // MARK: - bench echo

    @Test("bench echo on raw echo: exactly --count 20000 requests, no errors")
    func benchEchoCount() throws {
        let ringd = try RunningRingd(workers: 2, mode: "echo")
        let run = try runClient(["bench", "echo", "127.0.0.1", String(ringd.port), "-c", "16", "-t", "2",
                                 "--count", "20000", "--json", "--quiet"], timeout: .seconds(60))
        #expect(run.status == .success, "\(run)")
        let summary = try run.json()
        #expect(summary["requests"] as? Int == 20000, "\(run)")
        #expect((summary["latency_us"] as? [String: Any])?["count"] as? Int == 20000, "\(run)")
        #expect((summary["errors"] as? [String: Any])?["total"] as? Int == 0, "\(run)")
        #expect(summary["ok"] as? Bool == true, "\(run)")
    }

    // MARK: - bench connect

    @Test("bench connect on counter: exact count, values 0...count-1 rising, exact reply bytes")
    func benchConnectCounter() throws {
        let ringd = try RunningRingd(workers: 2, mode: "counter")
        let count = 2000
        let run = try runClient(["bench", "connect", "127.0.0.1", String(ringd.port), "-c", "8", "-t", "2",
                                 "--count", String(count), "--check-increasing", "--json", "--quiet"],
                                timeout: .seconds(60))
        #expect(run.status == .success, "\(run)")
        let summary = try run.json()
        #expect(summary["connections"] as? Int == count, "\(run)")
        #expect((summary["errors"] as? [String: Any])?["total"] as? Int == 0, "\(run)")
        // Every reply is `N connections before you\n`, N = 0 ..< count, each handed out once.
        let replyBytes = (0..<count).reduce(0) { $0 + String($1).count + " connections before you\n".count }
        #expect(summary["reply_bytes"] as? Int == replyBytes, "\(run)")
        let counter = summary["counter"] as? [String: Any]
        #expect(counter?["values"] as? Int == count, "\(run)")
        #expect(counter?["min"] as? Int == 0, "\(run)")
        #expect(counter?["max"] as? Int == count - 1, "\(run)")
        #expect(counter?["duplicates"] as? Int == 0, "\(run)")
        #expect(counter?["missing"] as? Int == 0, "\(run)")
    }

    // MARK: - bench broadcast

    @Test("bench broadcast: 50 subscribers at 50ms, lines delivered, no seq gap, every line stamped")
    func benchBroadcast() throws {
        let ringd = try RunningRingd(workers: 2, mode: "broadcast", settings: ["broadcast.interval": "50ms"])
        let run = try runClient(["bench", "broadcast", "127.0.0.1", String(ringd.port), "-c", "50", "-t", "2",
                                 "-d", "2s", "--json", "--quiet"], timeout: .seconds(60))
        #expect(run.status == .success, "\(run)")
        let summary = try run.json()
        let lines = summary["lines"] as? Int ?? 0
        #expect(lines > 0, "\(run)")
        #expect(summary["lost"] as? Int == 0, "\(run)")
        #expect(summary["lines_without_fields"] as? Int == 0, "\(run)")
        #expect(summary["future_stamps"] as? Int == 0, "\(run)")
        #expect((summary["latency_us"] as? [String: Any])?["count"] as? Int == lines, "\(run)")
        #expect(((summary["lines_per_subscriber"] as? [String: Any])?["min"] as? Int ?? 0) > 0, "\(run)")
        #expect((summary["errors"] as? [String: Any])?["total"] as? Int == 0, "\(run)")
    }

    // MARK: - bench relay

    @Test("bench relay: every line reaches every other client across workers, despite welcomes and notices")
    func benchRelay() throws {
        let ringd = try RunningRingd(workers: 2, mode: "relay")
        try expectLosslessRelay(port: ringd.port)
    }

    @Test("bench relay with welcome and notices off: still no loss")
    func benchRelayQuiet() throws {
        let ringd = try RunningRingd(workers: 2, mode: "relay", settings: ["relay.notices": "false", "relay.welcome": "false"])
        try expectLosslessRelay(port: ringd.port)
    }

    /// `lost` counts lines still missing when the drain ends, so a loaded machine on which lines
    /// arrive late must not pass for a lossy server: the drain is generous.
    private func expectLosslessRelay(port: Int) throws {
        let clients = 10
        let run = try runClient(["bench", "relay", "127.0.0.1", String(port), "-c", String(clients), "-t", "2",
                                 "--rate", "500", "-d", "1s", "--drain", "3s", "--json", "--quiet"],
                                timeout: .seconds(60))
        #expect(run.status == .success, "\(run)")
        let summary = try run.json()
        let sent = summary["lines_sent"] as? Int ?? 0
        #expect(sent > 0, "\(run)")
        #expect(summary["deliveries_expected"] as? Int == sent * (clients - 1), "\(run)")
        #expect(summary["lost"] as? Int == 0, "\(run)")
        #expect(summary["echoed_to_sender"] as? Int == 0, "\(run)")
        #expect((summary["errors"] as? [String: Any])?["total"] as? Int == 0, "\(run)")
    }
}

/// One line of `ring-client loop` against ringd's default broadcast message:
/// `round R: seq=N time=SECONDS.MICROS clients=C`.
private struct Heartbeat {
    let seq: Int
    let clients: Int

    init?(parsing line: String, round: Int) {
        let prefix = "round \(round): "
        guard line.hasPrefix(prefix) else { return nil }
        let fields = line.dropFirst(prefix.count).split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 3,
              fields[0].hasPrefix("seq="), let seq = Int(fields[0].dropFirst(4)), seq >= 1,
              fields[1].hasPrefix("time="), Self.isSecondsWithMicros(fields[1].dropFirst(5)),
              fields[2].hasPrefix("clients="), let clients = Int(fields[2].dropFirst(8))
        else { return nil }
        self.seq = seq
        self.clients = clients
    }

    /// `1732212345.123456`: whole seconds, a point, six digits.
    private static func isSecondsWithMicros(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].count == 6
            && parts.allSatisfy { $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }
    }
}
