// io_uring unavailable: when io_uring_setup(2) fails, ringd exits non-zero at once and says why
// (the system call and the errno name) instead of running without its engine. The failure is
// produced by a seccomp launcher compiled from Fixtures/ at test time.
import Foundation
import TestSupport
import Testing

@Suite("io_uring unavailable")
struct IOUringUnavailableTests {
    @Test("io_uring_setup failing makes ringd exit non-zero, naming the call and the errno", arguments: ["EPERM", "ENOSYS"])
    func exitsNamingTheCallAndErrno(errnoName: String) throws {
        let launcher = try Self.compileLauncher()
        defer { try? FileManager.default.removeItem(at: launcher.deletingLastPathComponent()) }

        let run = try CompletedRun(
            executable: launcher.path,
            arguments: [errnoName, try RingdPaths.ringdBinary(), "--listen", "127.0.0.1:0"])

        try #require(!run.standardError.contains("io_uring_denied_launcher:"), "the launcher failed: \(run.outputSummary)")
        #expect(run.status != .success, "\(run.outputSummary)")
        #expect(!run.status.killedBySignal, "ringd should exit with a message, not die: \(run.outputSummary)")
        #expect(run.standardError.contains("io_uring_setup"), "\(run.outputSummary)")
        #expect(run.standardError.contains(errnoName), "\(run.outputSummary)")
        #expect(!run.standardOutput.contains("listening on"), "\(run.outputSummary)")
    }

    /// Compiles the launcher into a fresh temporary directory and returns the executable.
    static func compileLauncher() throws -> URL {
        let source = RingdPaths.packageFile("Tests/RingdEndToEndTests/Fixtures/io_uring_denied_launcher.c")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringd-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let executable = directory.appendingPathComponent("io_uring_denied_launcher")
        let compiler = try Self.cCompiler()
        let run = try CompletedRun(
            executable: compiler,
            arguments: ["-std=c11", "-Wall", "-Wextra", "-Werror", "-x", "c", source.path, "-o", executable.path],
            timeout: .seconds(60))
        guard run.status == .success else {
            throw HarnessFailure("compiling the launcher failed: \(run.outputSummary)")
        }
        return executable
    }

    /// `$CC`, else the first of cc, gcc, clang on PATH.
    static func cCompiler() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        var names = ["cc", "gcc", "clang"]
        if let chosen = environment["CC"], !chosen.isEmpty { names.insert(chosen, at: 0) }
        let directories = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        for name in names {
            if name.hasPrefix("/") && FileManager.default.isExecutableFile(atPath: name) { return name }
            for directory in directories where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
                return "\(directory)/\(name)"
            }
        }
        throw HarnessFailure("no C compiler (cc, gcc or clang) on PATH to build the seccomp launcher")
    }
}
