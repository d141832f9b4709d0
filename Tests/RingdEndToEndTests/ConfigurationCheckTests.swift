// `ringd --check`: a valid file is validated and the effective configuration printed, with
// command-line flags applied over the file; an invalid file is refused with FILE:LINE:COL on
// stderr and nothing is started.
import Foundation
import TestSupport
import Testing

@Suite("Configuration check")
struct ConfigurationCheckTests {
    static var echoConfiguration: String { RingdPaths.packageFile("conf/echo.toml").path }

    @Test("--check --config conf/echo.toml exits 0 and prints the effective configuration")
    func shippedEchoConfigurationIsValid() throws {
        let run = try CompletedRun(executable: try RingdPaths.ringdBinary(), arguments: ["--check", "--config", Self.echoConfiguration])

        #expect(run.status == .success, "\(run.outputSummary)")
        #expect(Self.value(of: "workers", in: run.standardOutput) != nil, "no `workers = …` line\n\(run.outputSummary)")
        // The file's own listen list, as the file spells it.
        let file = try String(contentsOfFile: Self.echoConfiguration, encoding: .utf8)
        let listenInFile = try #require(Self.value(of: "listen", in: file)).filter { !$0.isWhitespace }
        let listenPrinted = Self.value(of: "listen", in: run.standardOutput)?.filter { !$0.isWhitespace }
        #expect(listenPrinted == listenInFile, "\(run.outputSummary)")
        #expect(!run.standardOutput.contains("listening on"), "--check must not start listening\n\(run.outputSummary)")
    }

    @Test(
        "flags override conf/echo.toml: --set server.workers=3 and --workers 2 print workers = N",
        arguments: [["--set", "server.workers=3"], ["--workers", "2"]])
    func flagsOverrideTheShippedFile(flags: [String]) throws {
        let expected = flags[1].split(separator: "=").last.map(String.init) ?? ""
        let run = try CompletedRun(
            executable: try RingdPaths.ringdBinary(), arguments: ["--check", "--config", Self.echoConfiguration] + flags)

        #expect(run.status == .success, "\(run.outputSummary)")
        #expect(Self.value(of: "workers", in: run.standardOutput) == expected, "\(run.outputSummary)")
    }

    @Test(
        "a bad flag value exits 2 naming the flag as typed, not the override it stands for",
        arguments: [
            (["--mode", "nope"], #"--mode nope: server.mode = "nope" is not one of greet, counter, echo, broadcast, relay"#),
            (["--workers", "0"], "--workers 0: server.workers = 0 is out of range (1...1024)"),
            (["--workers", "x"], #"--workers x: server.workers = "x" is neither "auto" nor an integer"#),
            // The second of two --listen flags: the error names that one.
            (["--listen", "127.0.0.1:0", "--listen", "[::1]:99999"],
             #"--listen [::1]:99999: server.listen[1] = "[::1]:99999" is not an address: port '99999' is not a number 0...65535"#),
            // --set keeps its own form, with the position inside the override.
            (["--set", "server.workers=x"], #"--set server.workers=x:1:16: server.workers = "x" is neither "auto" nor an integer"#),
        ])
    func badFlagValueNamesTheFlag(flags: [String], message: String) throws {
        let run = try CompletedRun(executable: try RingdPaths.ringdBinary(), arguments: ["--check"] + flags)

        #expect(run.status == ExitStatus(code: 2, killedBySignal: false), "\(run.outputSummary)")
        #expect(run.standardError == "ringd: error: \(message)\n", "\(run.outputSummary)")
        #expect(run.standardOutput.isEmpty, "\(run.outputSummary)")
    }

    @Test("values set in the file are printed, and a flag wins over a value the file sets")
    func fileValuesArePrintedAndFlagsWin() throws {
        let file = try Self.writeConfiguration("[server]\nworkers = 7\nlisten = [\"127.0.0.1:7123\"]\n")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let ringd = try RingdPaths.ringdBinary()

        let fromFile = try CompletedRun(executable: ringd, arguments: ["--check", "--config", file.path])
        #expect(fromFile.status == .success, "\(fromFile.outputSummary)")
        #expect(Self.value(of: "workers", in: fromFile.standardOutput) == "7", "\(fromFile.outputSummary)")
        #expect(
            Self.value(of: "listen", in: fromFile.standardOutput)?.filter { !$0.isWhitespace } == "[\"127.0.0.1:7123\"]",
            "\(fromFile.outputSummary)")

        let overridden = try CompletedRun(
            executable: ringd, arguments: ["--check", "--config", file.path, "--set", "server.workers=3"])
        #expect(overridden.status == .success, "\(overridden.outputSummary)")
        #expect(Self.value(of: "workers", in: overridden.standardOutput) == "3", "\(overridden.outputSummary)")
    }

    @Test("--check with an unknown key on line 3 exits non-zero and names FILE:3:1")
    func unknownKeyIsRefusedWithItsPosition() throws {
        let file = try Self.writeInvalidConfiguration()
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }

        let run = try CompletedRun(executable: try RingdPaths.ringdBinary(), arguments: ["--check", "--config", file.path])

        #expect(run.status != .success, "\(run.outputSummary)")
        #expect(!run.status.killedBySignal, "\(run.outputSummary)")
        #expect(run.standardError.contains("\(file.path):3:1:"), "\(run.outputSummary)")
    }

    @Test("starting with an invalid file exits non-zero with FILE:3:1 and listens on nothing")
    func invalidFileStartsNothing() throws {
        let file = try Self.writeInvalidConfiguration()
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }

        let run = try CompletedRun(
            executable: try RingdPaths.ringdBinary(), arguments: ["--config", file.path, "--listen", "127.0.0.1:0"])

        #expect(run.status != .success, "\(run.outputSummary)")
        #expect(!run.status.killedBySignal, "\(run.outputSummary)")
        #expect(run.standardError.contains("\(file.path):3:1:"), "\(run.outputSummary)")
        #expect(!run.standardOutput.contains("listening on"), "\(run.outputSummary)")
    }

    /// A file whose only fault is the unknown key `bogus` at line 3, column 1.
    static func writeInvalidConfiguration() throws -> URL {
        try writeConfiguration("[server]\nworkers = 1\nbogus = 2\n")
    }

    /// Writes `text` to `ringd.toml` in a new temporary directory, which the caller removes.
    static func writeConfiguration(_ text: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringd-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("ringd.toml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// The value of the first `key = value` line in `output`, ignoring spaces and a trailing comment.
    static func value(of key: String, in output: String) -> String? {
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == key else { continue }
            let value = parts[1].split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
            return value.trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}
