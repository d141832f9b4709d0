// Every flag with good and bad values, combined, against the ringd under test (tools/test.sh points
// RINGD_BIN at the release build, the one users run). Each command line ends one of two ways:
// ringd starts, prints its `listening on` lines and exits 0 on SIGTERM (or, with --check, prints
// the configuration and exits 0); or it exits 2 with exactly one `ringd: error:` line that names a
// bad flag as it was typed. Never a signal: the release build once crashed on a bad flag after a
// good one, a lifetime miscompile that only the optimised binary showed.
import Foundation
import Glibc
import TestSupport
import Testing

@Suite("Command-line sweep")
struct CommandLineSweepTests {
    /// The flags of every combination: each dimension is one flag's choices, absent included.
    static let modes: [Choice] = [.absent, .good("--mode", "relay"), .good("--mode", "greet"), .bad("--mode", "nope")]
    static let listens: [Choice] = [
        .good("--listen", "127.0.0.1:0"),
        Choice(["--listen", "127.0.0.1:0", "--listen", "[::1]:0"], listeners: 2),
        .bad("--listen", "127.0.0.1:99999"),
        Choice(["--listen", "127.0.0.1:0", "--listen", "-1"], badAs: ["--listen -1: "]),
    ]
    static let workers: [Choice] = [
        .absent, .good("--workers", "2"), .good("--workers", "auto"), .bad("--workers", "0"), .bad("--workers", "x"),
        .bad("--workers", "-1"),
    ]
    static let logLevels: [Choice] = [.absent, .good("--log-level", "error"), .bad("--log-level", "loud")]
    static let settings: [Choice] = [
        .absent, .good("--set", "io.buffer_count=4096"), .setting("nope.x=1"), .setting("server.workers=x"),
        .setting("server.workers"),
    ]
    static let checks: [Choice] = [.absent, Choice(["--check"])]

    /// 4 x 4 x 6 x 3 x 5 x 2 = 2,880 command lines, run in `shards` tests side by side.
    static let combinations: [[Choice]] = {
        var result: [[Choice]] = [[]]
        for dimension in [checks, modes, listens, workers, logLevels, settings] {
            result = result.flatMap { prefix in dimension.map { prefix + [$0] } }
        }
        return result
    }()
    static let shards = 4
    /// The sweep is about the release binary; under a sanitizer (tools/sanitize.sh sets
    /// RINGD_SANITIZER) every 8th line is enough to check the sanitized ringd too, in an eighth
    /// of the time.
    static let stride = ProcessInfo.processInfo.environment["RINGD_SANITIZER"] == nil ? 1 : 8

    @Test("combinations of good and bad flags: a clean start and stop, or exit 2 naming the flag", arguments: 0..<shards)
    func flagCombinations(shard: Int) throws {
        #expect(Self.combinations.count == 2_880)
        for (index, combination) in Self.combinations.enumerated() where index % (Self.shards * Self.stride) == shard {
            try Self.expectCleanEnding(combination)
        }
    }

    /// `--set` on every key the configuration has (read from `ringd --check`), with its default, a
    /// value of the wrong type and, for integers, one out of range; an unknown key in each table;
    /// each alone, after a file, after a missing file and after a bad flag, with and without --check.
    @Test("--set on every key of every table and type", arguments: 0..<shards)
    func settingEveryKey(shard: Int) throws {
        let keys = try Self.defaultKeys()
        #expect(keys.count >= 30, "ringd --check printed only \(keys.count) keys")
        var values: [Choice] = []
        for (table, key, value) in keys {
            // The default listen address may be taken; every start listens on a free port instead,
            // and serves metrics on another one when that key is set.
            let good =
                switch "\(table).\(key)" {
                case "server.listen": #"["127.0.0.1:0"]"#
                case "metrics.listen": "127.0.0.1:0"
                default: value
                }
            values.append(.good("--set", "\(table).\(key)=\(good)"))
            values.append(.setting("\(table).\(key)=\(value == "true" || value == "false" ? "7" : "true")"))
            if Int(value) != nil { values.append(.setting("\(table).\(key)=-1")) }
        }
        for table in Set(keys.map(\.table)).sorted() { values.append(.setting("\(table).no_such_key=1")) }
        let preludes: [Choice] = [
            .absent, Choice(["--config", RingdPaths.packageFile("conf/echo.toml").path]),
            Choice(["--config", "/nonexistent/ringd.toml"], badAs: ["cannot read /nonexistent/ringd.toml: "]),
            .bad("--mode", "nope"),
        ]
        var index = 0
        for check in Self.checks {
            for prelude in preludes {
                for value in values {
                    defer { index += 1 }
                    guard index % (Self.shards * Self.stride) == shard else { continue }
                    // A good server.mode set after --mode nope rightly puts it right.
                    if prelude.arguments.first == "--mode" && value.badAs.isEmpty && value.arguments[1].hasPrefix("server.mode=")
                    {
                        continue
                    }
                    try Self.expectCleanEnding([check, prelude, .good("--listen", "127.0.0.1:0"), value])
                }
            }
        }
    }

    /// What ArgumentParser itself refuses ends the same way, not with its usage block and 64.
    @Test(
        "an unknown flag, a flag without its value or a stray argument exits 2 with one line naming it",
        arguments: [
            (["--bogus"], "Unknown option '--bogus'"),
            (["--listen", "127.0.0.1:0", "--set"], "Missing value for '--set <TABLE.KEY=VALUE>'"),
            (["--check", "--workers"], "Missing value for '--workers <N|auto>'"),
            (["--check", "stray"], "Unexpected argument 'stray'"),
        ])
    func argumentErrors(arguments: [String], message: String) throws {
        let run = try CompletedRun(executable: try RingdPaths.ringdBinary(), arguments: arguments)
        #expect(run.status == ExitStatus(code: 2, killedBySignal: false), "\(run.outputSummary)")
        #expect(run.standardError == "ringd: error: \(message) (ringd --help lists every flag)\n", "\(run.outputSummary)")
    }

    /// Arrays nested 100,000 deep once overflowed the parser's stack and crashed ringd (found by
    /// tools/fuzz). In an override the text is not TOML, so it is taken as a bare string and
    /// refused as an address; in a file it is refused at the 33rd '['.
    @Test("arrays nested 100,000 deep, in a file or a --set value, exit 2 with one named error")
    func deeplyNestedArrays() throws {
        let deep = String(repeating: "[", count: 100_000)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ringd-deep-\(UUID().uuidString).toml")
        try "[server]\nlisten = \(deep)\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        for arguments in [["--check", "--config", file.path], ["--check", "--set", "server.listen=\(deep)"]] {
            let run = try CompletedRun(executable: try RingdPaths.ringdBinary(), arguments: arguments)
            let error = run.standardError
            let named =
                arguments[1] == "--config"
                ? error.hasPrefix("ringd: error: \(file.path):2:42: arrays nested more than 32 deep")
                : error.hasPrefix("ringd: error: --set server.listen=[[[[")
            #expect(run.status == ExitStatus(code: 2, killedBySignal: false), "\(arguments[1]): \(run.status)")
            #expect(
                named && error.split(separator: "\n").count == 1, "\(arguments[1]): \(error.prefix(200))...\(error.suffix(200))")
        }
    }

    /// Runs one command line and checks that it ended one of the two clean ways.
    static func expectCleanEnding(_ combination: [Choice]) throws {
        let arguments = combination.flatMap(\.arguments)
        let bad = combination.flatMap(\.badAs)
        let check = arguments.contains("--check")
        let context = "ringd \(arguments.joined(separator: " "))"
        if bad.isEmpty && !check {
            let listeners = combination.map(\.listeners).max() ?? 1
            let ringd = try RunningRingd(arguments: arguments, expectedListeners: listeners)
            defer { ringd.stop() }
            ringd.child.send(signal: SIGTERM)
            let status = try ringd.child.requireExit(within: .seconds(20))
            #expect(status == .success, "\(context)\n\(ringd.child.outputSummary)")
            return
        }
        let run = try CompletedRun(executable: try RingdPaths.ringdBinary(), arguments: arguments)
        if bad.isEmpty {
            #expect(run.status == .success, "\(context)\n\(run.outputSummary)")
            #expect(run.standardOutput.contains("\nmode = "), "\(context)\n\(run.outputSummary)")
            #expect(run.standardError.isEmpty, "\(context)\n\(run.outputSummary)")
            return
        }
        #expect(run.status == ExitStatus(code: 2, killedBySignal: false), "\(context)\n\(run.outputSummary)")
        #expect(run.standardOutput.isEmpty, "\(context)\n\(run.outputSummary)")
        let lines = run.standardError.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty, "not one line: \(context)\n\(run.outputSummary)")
        #expect(
            bad.contains { run.standardError.hasPrefix("ringd: error: \($0)") },
            "the error names none of \(bad): \(context)\n\(run.outputSummary)")
    }

    /// Every `key = value` of `ringd --check` with no flags: the defaults, as TOML.
    static func defaultKeys() throws -> [(table: String, key: String, value: String)] {
        let run = try CompletedRun(executable: try RingdPaths.ringdBinary(), arguments: ["--check"])
        var table = ""
        var keys: [(table: String, key: String, value: String)] = []
        for line in run.standardOutput.split(separator: "\n") {
            if line.hasPrefix("[") {
                table = String(line.dropFirst().prefix { $0 != "]" })
            } else if let equals = line.firstIndex(of: "=") {
                let key = line[..<equals].trimmingCharacters(in: .whitespaces)
                let afterEquals = line[line.index(after: equals)...]
                // The value runs to the comment; the values in the defaults hold no " #".
                let value = (afterEquals.range(of: " #").map { afterEquals[..<$0.lowerBound] } ?? afterEquals)
                keys.append((table, key, value.trimmingCharacters(in: .whitespaces)))
            }
        }
        return keys
    }
}

/// One flag's choice in a combination: its arguments, and when it is wrong, how the error line must
/// begin when it is the one named (the flag as typed, then `: ` or the override's position).
struct Choice: CustomStringConvertible {
    let arguments: [String]
    let badAs: [String]
    /// How many `listening on` lines ringd prints when this choice is its --listen.
    let listeners: Int

    init(_ arguments: [String], badAs: [String] = [], listeners: Int = 1) {
        self.arguments = arguments
        self.badAs = badAs
        self.listeners = listeners
    }

    static let absent = Choice([])
    static func good(_ flag: String, _ value: String) -> Choice { Choice([flag, value]) }
    static func bad(_ flag: String, _ value: String) -> Choice { Choice([flag, value], badAs: ["\(flag) \(value): "]) }
    /// A `--set` that is wrong: its error is `--set TEXT:LINE:COL: ...`.
    static func setting(_ text: String) -> Choice { Choice(["--set", text], badAs: ["--set \(text):"]) }

    var description: String { arguments.joined(separator: " ") }
}
