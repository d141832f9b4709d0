// Logging: one stderr line per event through swift-log, `ringd: LEVEL: worker=N peer=HOST:PORT:
// message`, from the level that --log-level or server.log_level names. What a user checks:
// the event is there once per client, with that client's address, and nothing below the level.
import Foundation
import Glibc
import TestSupport
import Testing

@Suite("Logging")
struct LoggingTests {
    /// The lines of `standardError` at `level`.
    private func lines(at level: String, in standardError: String) -> [String] {
        standardError.split(separator: "\n").map(String.init).filter { $0.hasPrefix("ringd: \(level): ") }
    }

    @Test("--log-level debug: each client the access list refuses is one line naming its worker and address")
    func refusalsAreLoggedWithTheClientAddress() throws {
        let ringd = try RunningRingd(extraArguments: [
            "--workers", "2", "--log-level", "debug", "--set", #"access.deny=["127.0.0.2/32"]"#,
        ])
        defer { ringd.stop() }
        for _ in 0..<3 {
            _ = try SourceBoundClient.connectAndReadToEnd(from: "127.0.0.2", to: ringd.endpoint)
        }
        try ringd.waitForLog(containing: "refused by access.allow / access.deny", count: 3)

        let refusals = lines(at: "debug", in: ringd.child.standardError).filter { $0.contains("refused by access") }
        #expect(refusals.count == 3, "\(ringd.child.standardError)")
        for line in refusals {
            let pattern = #"^ringd: debug: worker=[01] peer=127\.0\.0\.2:[0-9]+: refused by access\.allow / access\.deny$"#
            #expect(line.range(of: pattern, options: .regularExpression) != nil, "\(line)")
        }
    }

    @Test("--log-level trace: a client's connect and close are one line each with its address")
    func connectionsAreTracedWithTheClientAddress() throws {
        let ringd = try RunningRingd(extraArguments: ["--workers", "1", "--log-level", "trace"])
        defer { ringd.stop() }
        let client = try LineConnection(connectingTo: ringd.endpoint)
        let address = try client.socket.localEndpoint
        try client.send("hello\n")
        #expect(try client.readLineText() == "hello\n")
        client.socket.close()
        try ringd.waitForLog(containing: "peer=\(address): closed")

        let traced = lines(at: "trace", in: ringd.child.standardError)
        #expect(traced == ["ringd: trace: worker=0 peer=\(address): connected", "ringd: trace: worker=0 peer=\(address): closed"],
                "\(ringd.child.standardError)")
    }

    @Test("a client cut at io.output_cap is logged at debug with its address and the cause, and summed up at info")
    func cutsNameTheClientAndTheCause() throws {
        let ringd = try RunningRingd(extraArguments: [
            "--mode", "broadcast", "--workers", "1", "--log-level", "debug", "--set", "broadcast.interval=20ms",
            "--set", "io.output_cap=64KiB", "--set", "broadcast.message=\"seq={seq} \(BroadcastModeTests.padding)\\n\"",
        ])
        defer { ringd.stop() }
        let slow = try LineConnection(connectingTo: ringd.endpoint, receiveBufferSize: 64 * 1024)
        let address = try slow.socket.localEndpoint

        try ringd.waitForLog(containing: "peer=\(address): cut: queued output would pass io.output_cap (65536 bytes)", within: .seconds(30))
        let summaries = lines(at: "info", in: ringd.child.standardError).filter { $0.contains("slow client") }
        #expect(summaries == ["ringd: info: worker=0: cut 1 slow client; so far 1 over io.output_cap, 0 over io.output_soft_cap for io.output_soft_time, 0 with output memory full"],
                "\(ringd.child.standardError)")
        slow.socket.close()
    }

    @Test("--log-level warning overrides server.log_level from the file: no info or debug line, not even the counters")
    func flagOverridesTheFileAndHidesLowerLevels() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ringd-logging-\(UUID().uuidString).toml").path
        defer { unlink(path) }
        try "[server]\nlog_level = \"debug\"\n".write(toFile: path, atomically: true, encoding: .utf8)

        for (flag, expectsDebug) in [(["--log-level", "warning"], false), ([], true)] {
            let ringd = try RunningRingd(extraArguments: [
                "--config", path, "--workers", "1", "--set", #"access.deny=["127.0.0.2/32"]"#,
            ] + flag)
            defer { ringd.stop() }
            _ = try SourceBoundClient.connectAndReadToEnd(from: "127.0.0.2", to: ringd.endpoint)
            ringd.child.send(signal: SIGTERM)
            let status = try ringd.child.requireExit(within: .seconds(15))
            #expect(status == .success, "\(status)\n\(ringd.child.outputSummary)")

            let standardError = ringd.child.standardError
            if expectsDebug {
                #expect(lines(at: "debug", in: standardError).count == 1, "the file's debug level: \(standardError)")
                #expect(lines(at: "info", in: standardError).contains { $0.contains(": stopped: ") }, "\(standardError)")
            } else {
                #expect(standardError.isEmpty, "--log-level warning, and nothing went wrong: \(standardError)")
            }
        }
    }

    @Test("--log-level with an unknown level exits 2, naming the flag and listing the levels")
    func unknownLevelIsRefused() throws {
        let run = try CompletedRun(executable: try RingdPaths.ringdBinary(), arguments: ["--log-level", "loud"])
        #expect(run.status == ExitStatus(code: 2, killedBySignal: false), "\(run.outputSummary)")
        #expect(
            run.standardError == #"ringd: error: --log-level loud: server.log_level = "loud" is not one of trace, debug, info, notice, warning, error, critical"# + "\n",
            "\(run.outputSummary)")
    }
}
