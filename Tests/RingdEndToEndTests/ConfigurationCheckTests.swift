// `ringd --check`: a valid file is validated and the effective configuration printed, with
// command-line flags applied over the file; an invalid file is refused with FILE:LINE:COL on
// stderr and nothing is started.
import Foundation
import Testing

@Suite("Configuration check")
struct ConfigurationCheckTests {
    static var echoConfiguration: String { RingdPaths.packageFile("conf/echo.toml").path }

    @Test("--check --config conf/echo.toml exits 0 and prints the effective configuration")
    func shippedEchoConfigurationIsValid() throws {
        let run = try CompletedRun(executable: try RingdPaths.ringdBinary(), arguments: ["--check", "--config", Self.echoConfiguration])

        #expect(run.status == .success, "\(run.outputSummary)")
        #expect(Self.value(of: "workers", in: run.standardOutput) != nil, "no `workers = …` line\n\(run.outputSummary)")
        #expect(!run.standardOutput.contains("listening on"), "--check must not start listening\n\(run.outputSummary)")
    }

    @Test(
        "flags override the file: --set server.workers=N and --workers N print workers = N",
        arguments: [["--set", "server.workers=3"], ["--set", "server.workers=5"], ["--workers", "2"]])
    func flagsOverrideTheFile(flags: [String]) throws {
        let expected = flags[1].split(separator: "=").last.map(String.init) ?? ""
        let run = try CompletedRun(
            executable: try RingdPaths.ringdBinary(), arguments: ["--check", "--config", Self.echoConfiguration] + flags)

        #expect(run.status == .success, "\(run.outputSummary)")
        #expect(Self.value(of: "workers", in: run.standardOutput) == expected, "\(run.outputSummary)")
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
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringd-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("bad.toml")
        try "[server]\nworkers = 1\nbogus = 2\n".write(to: file, atomically: true, encoding: .utf8)
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
