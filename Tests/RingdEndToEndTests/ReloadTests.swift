// SIGHUP reloads the --config file: a changed message reaches the next client, a broadcast
// keeps its seq across a change of message and interval, a new deny list refuses at once, and
// an invalid file keeps the running configuration with the error logged at its position.
import Foundation
import Glibc
import TestSupport
import Testing

@Suite("SIGHUP reload")
struct ReloadTests {
    private func writeConfiguration(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    private func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ringd-reload-\(UUID().uuidString)-\(name)").path
    }

    @Test("a changed greeting reaches the next client; an invalid file keeps it and names the error")
    func greetingChangesAndInvalidFileIsRefused() throws {
        let path = temporaryPath("greet.toml")
        defer { unlink(path) }
        try writeConfiguration("[server]\nmode = \"greet\"\nworkers = 2\n[greet]\nmessage = \"first\\n\"\n", to: path)
        let ringd = try RunningRingd(extraArguments: ["--config", path])
        defer { ringd.stop() }
        #expect(try LineConnection(connectingTo: ringd.endpoint).readToEnd(within: .seconds(10)).bytes == Array("first\n".utf8))

        try writeConfiguration("[server]\nmode = \"greet\"\nworkers = 2\n[greet]\nmessage = \"second\\n\"\n", to: path)
        kill(ringd.pid, SIGHUP)
        try ringd.waitForLog(containing: "configuration reloaded", count: 3)  // main thread and two workers
        for _ in 0..<10 {
            #expect(try LineConnection(connectingTo: ringd.endpoint).readToEnd(within: .seconds(10)).bytes == Array("second\n".utf8))
        }

        try writeConfiguration("[server]\nmode = \"greet\"\n[greet]\nmessage = \"third {nope}\\n\"\n", to: path)
        kill(ringd.pid, SIGHUP)
        try ringd.waitForLog(containing: "reload failed")
        #expect(ringd.child.standardError.contains("\(path):4:18: greet.message"), "\(ringd.child.standardError)")
        #expect(try LineConnection(connectingTo: ringd.endpoint).readToEnd(within: .seconds(10)).bytes == Array("second\n".utf8))
    }

    @Test("a broadcast keeps counting across a new message and interval; a new deny list refuses")
    func broadcastKeepsSeqAndDenyTakesEffect() throws {
        let path = temporaryPath("broadcast.toml")
        defer { unlink(path) }
        try writeConfiguration("[server]\nmode = \"broadcast\"\nworkers = 1\n[broadcast]\ninterval = \"50ms\"\nmessage = \"A {seq}\\n\"\n", to: path)
        let ringd = try RunningRingd(extraArguments: ["--config", path])
        defer { ringd.stop() }
        let subscriber = try LineConnection(connectingTo: ringd.endpoint)
        func text(_ line: [UInt8]) -> String {
            String(decoding: line, as: UTF8.self).trimmingCharacters(in: .newlines)
        }
        var lines = try subscriber.readLines(3).map(text)

        try writeConfiguration(
            "[server]\nmode = \"broadcast\"\nworkers = 1\n[broadcast]\ninterval = \"20ms\"\nmessage = \"B {seq}\\n\"\n"
                + "[access]\ndeny = [\"127.0.0.0/8\"]\n", to: path)
        kill(ringd.pid, SIGHUP)
        try ringd.waitForLog(containing: "configuration reloaded", count: 2)
        while !(lines.last ?? "").hasPrefix("B ") || lines.count < 10 {
            lines.append(text(try subscriber.readLine()))
        }
        let seqs = lines.map { line in line.split(separator: " ").last.flatMap { Int($0) } ?? -1 }
        #expect(seqs == Array(seqs[0]..<(seqs[0] + seqs.count)), "seq jumped: \(lines)")
        #expect(lines.first!.hasPrefix("A ") && lines.last!.hasPrefix("B "))

        let refused = try LineConnection(connectingTo: ringd.endpoint)
        let (bytes, _) = try refused.readToEnd(within: .seconds(10))
        #expect(bytes.isEmpty, "a denied client got \(quoted(bytes))")
    }

    @Test("a new server.log_level takes effect in every worker: a refusal unlogged at info is logged at debug after SIGHUP")
    func logLevelChanges() throws {
        let path = temporaryPath("log-level.toml")
        defer { unlink(path) }
        let deny = "[access]\ndeny = [\"127.0.0.2/32\"]\n"
        try writeConfiguration("[server]\nworkers = 2\nlog_level = \"info\"\n" + deny, to: path)
        let ringd = try RunningRingd(extraArguments: ["--config", path])
        defer { ringd.stop() }
        for _ in 0..<4 { _ = try SourceBoundClient.connectAndReadToEnd(from: "127.0.0.2", to: ringd.endpoint) }

        try writeConfiguration("[server]\nworkers = 2\nlog_level = \"debug\"\n" + deny, to: path)
        kill(ringd.pid, SIGHUP)
        try ringd.waitForLog(containing: "configuration reloaded", count: 3)
        #expect(!ringd.child.standardError.contains("refused by access"), "logged at info:\n\(ringd.child.standardError)")
        // Enough clients that both workers take some (SO_REUSEPORT spreads them by hash).
        for _ in 0..<16 { _ = try SourceBoundClient.connectAndReadToEnd(from: "127.0.0.2", to: ringd.endpoint) }
        try ringd.waitForLog(containing: "refused by access", count: 16)
        let refusals = ringd.child.standardError.split(separator: "\n").filter { $0.contains("refused by access") }
        let workers = Set(refusals.compactMap { line in line.range(of: "worker=").map { line[$0.upperBound] } })
        #expect(refusals.count == 16 && workers == ["0", "1"], "\(refusals.joined(separator: "\n"))")
    }
}
