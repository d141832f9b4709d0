// Starts a program (ringd, ring-client, or the launcher that runs ringd without io_uring) with
// stdin from a file or /dev/null and its stdout and stderr captured in files, and waits for it
// only as long as the caller allows. Shared by every test target that runs a binary.
//
// Output goes to files rather than pipes so that a chatty child can never block on a full pipe and
// the test can reread everything written so far at any moment. Every wait is bounded.
import CLinux
import Foundation
import Glibc

/// How a child process ended.
package struct ExitStatus: Equatable, CustomStringConvertible {
    /// The exit code, or the signal number when `killedBySignal` is set.
    package let code: Int32
    package let killedBySignal: Bool

    package init(code: Int32, killedBySignal: Bool) {
        self.code = code
        self.killedBySignal = killedBySignal
    }

    package static let success = ExitStatus(code: 0, killedBySignal: false)

    /// A normal exit with `code`.
    package static func exited(_ code: Int32) -> ExitStatus { ExitStatus(code: code, killedBySignal: false) }

    package var description: String {
        killedBySignal ? "killed by signal \(code) (\(signalName(code)))" : "exited with status \(code)"
    }
}

/// A child process whose output is captured; it is terminated and reaped by `stop()`, which every
/// test calls in a `defer` so that a failing test never leaves a server running.
///
/// It is started with posix_spawn(3) rather than Foundation's `Process` for one reason: the child
/// must start with an empty signal mask and default dispositions, as it would from a shell. Test
/// functions run on Dispatch worker threads, which block nearly every signal, and `Process` passes
/// that mask on, so a SIGTERM sent to ringd would stay pending forever and the shutdown tests would
/// test the harness instead of ringd.
package final class ChildProcess {
    package let executable: String
    package let arguments: [String]
    package let pid: pid_t
    private let outputDirectory: URL
    private let standardOutputFile: URL
    private let standardErrorFile: URL
    /// Set once the child has been reaped; after that its pid may belong to someone else.
    private var reapedStatus: ExitStatus?

    /// Starts `executable` with `arguments`, stdin from /dev/null (or a file holding
    /// `standardInput`), stdout and stderr to files. The tests' own sockets are close-on-exec, so
    /// the child never holds a client's connection open.
    package init(executable: String, arguments: [String], standardInput: String? = nil) throws {
        self.executable = executable
        self.arguments = arguments
        outputDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("ringd-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        standardOutputFile = outputDirectory.appendingPathComponent("stdout")
        standardErrorFile = outputDirectory.appendingPathComponent("stderr")
        var inputPath = "/dev/null"
        if let standardInput {
            inputPath = outputDirectory.appendingPathComponent("stdin").path
            try standardInput.write(toFile: inputPath, atomically: true, encoding: .utf8)
        }
        pid = try Self.spawn(
            executable, arguments: arguments, standardInput: inputPath, standardOutput: standardOutputFile.path,
            standardError: standardErrorFile.path)
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: outputDirectory)
    }

    private static func spawn(
        _ executable: String, arguments: [String], standardInput: String, standardOutput: String, standardError: String
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let create = O_WRONLY | O_CREAT | O_TRUNC
        // Only stdin, stdout and stderr: the test runner's own descriptors that lack close-on-exec
        // must not reach the child, or they would count in its descriptor baseline.
        _ = ringd_spawn_close_from(&actions, 3)
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, standardInput, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, standardOutput, create, 0o644)
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, standardError, create, 0o644)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var everySignal = sigset_t()
        sigfillset(&everySignal)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &everySignal)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard result == 0 else {
            throw HarnessFailure("posix_spawn \(executable): \(errnoName(result))")
        }
        return pid
    }

    package var isRunning: Bool { exitStatus == nil }

    /// Everything the child has written to stdout so far.
    package var standardOutput: String { Self.contents(of: standardOutputFile) }

    /// Everything the child has written to stderr so far.
    package var standardError: String { Self.contents(of: standardErrorFile) }

    /// The command line, for failure messages.
    package var commandLine: String { ([executable] + arguments).joined(separator: " ") }

    /// How the child ended, or nil while it runs; reaps it the first time it is seen to have ended.
    package var exitStatus: ExitStatus? {
        if let reapedStatus { return reapedStatus }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        guard result == pid else { return nil }
        // The <sys/wait.h> macros, which Swift does not import: the low 7 bits are the signal that
        // ended the child (0 for a normal exit), the next byte the exit code.
        let signal = status & 0x7F
        reapedStatus = signal == 0
            ? ExitStatus(code: (status >> 8) & 0xFF, killedBySignal: false)
            : ExitStatus(code: signal, killedBySignal: true)
        return reapedStatus
    }

    package func send(signal: Int32) {
        if isRunning {
            kill(pid, signal)
        }
    }

    /// Waits until the child exits, for at most `timeout`; nil if it is still running then.
    package func waitForExit(timeout: Duration) -> ExitStatus? {
        let deadline = Deadline(after: timeout)
        while !deadline.hasPassed {
            if let status = exitStatus { return status }
            usleep(5_000)
        }
        return exitStatus
    }

    /// Waits for the child to exit and fails, killing it, if it takes longer than `timeout`.
    package func requireExit(within timeout: Duration) throws -> ExitStatus {
        if let status = waitForExit(timeout: timeout) { return status }
        stop()
        throw HarnessFailure(
            "\(commandLine) was still running after \(timeout) and was killed\n\(outputSummary)")
    }

    /// Ends the child: SIGTERM, then SIGKILL if it has not exited after a few seconds, and reaps
    /// it. Safe to call any number of times.
    package func stop() {
        guard isRunning else { return }
        send(signal: SIGTERM)
        if waitForExit(timeout: .seconds(10)) == nil {
            send(signal: SIGKILL)
            _ = waitForExit(timeout: .seconds(10))
        }
    }

    /// The captured stdout and stderr, for failure messages.
    package var outputSummary: String {
        "--- stdout of \(commandLine) ---\n\(standardOutput)--- stderr ---\n\(standardError)---"
    }

    private static func contents(of file: URL) -> String {
        guard let data = FileManager.default.contents(atPath: file.path) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A program run to completion: its exit status and everything it wrote.
package struct CompletedRun {
    package let status: ExitStatus
    package let standardOutput: String
    package let standardError: String
    package let commandLine: String

    /// Runs `executable` and waits for it to exit, killing it and failing after `timeout`.
    package init(executable: String, arguments: [String], standardInput: String? = nil, timeout: Duration = .seconds(20)) throws {
        let child = try ChildProcess(executable: executable, arguments: arguments, standardInput: standardInput)
        defer { child.stop() }
        status = try child.requireExit(within: timeout)
        standardOutput = child.standardOutput
        standardError = child.standardError
        commandLine = child.commandLine
    }

    package var outputSummary: String {
        "\(commandLine) \(status)\n--- stdout ---\n\(standardOutput)--- stderr ---\n\(standardError)---"
    }

    /// The non-empty lines of stdout.
    package var outputLines: [String] { standardOutput.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }

    /// A --json summary: the last stdout line that parses as a JSON object.
    package func json() throws -> [String: Any] {
        for line in outputLines.reversed() {
            if let data = line.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                return object
            }
        }
        throw HarnessFailure("no JSON summary in the output of \(outputSummary)")
    }
}

extension CompletedRun: CustomStringConvertible {
    package var description: String { outputSummary }
}

/// Runs the `ring-client` under test with `arguments` to its end, for at most `timeout`.
package func runClient(_ arguments: [String], standardInput: String? = nil, timeout: Duration = .seconds(60)) throws -> CompletedRun {
    try CompletedRun(
        executable: try RingdPaths.ringClientBinary(), arguments: arguments, standardInput: standardInput, timeout: timeout)
}

/// A point in time after which a bounded wait gives up.
package struct Deadline {
    package let instant: ContinuousClock.Instant

    package init(after duration: Duration) {
        instant = .now + duration
    }

    package var hasPassed: Bool { .now >= instant }

    /// The time left, in whole milliseconds as poll(2) takes it, never negative.
    package var remainingMilliseconds: Int32 {
        let remaining = instant - .now
        guard remaining > .zero else { return 0 }
        let (seconds, attoseconds) = remaining.components
        let milliseconds = seconds * 1_000 + attoseconds / 1_000_000_000_000_000 + 1
        return Int32(clamping: milliseconds)
    }
}

package func signalName(_ signal: Int32) -> String {
    switch signal {
    case SIGTERM: "SIGTERM"
    case SIGINT: "SIGINT"
    case SIGKILL: "SIGKILL"
    case SIGSEGV: "SIGSEGV"
    case SIGABRT: "SIGABRT"
    case SIGILL: "SIGILL"
    case SIGTRAP: "SIGTRAP"
    case SIGBUS: "SIGBUS"
    case SIGPIPE: "SIGPIPE"
    case SIGSYS: "SIGSYS"
    default: "signal \(signal)"
    }
}
