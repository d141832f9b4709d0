// Runs a program with stdin from a file (or /dev/null) and stdout and stderr captured in files,
// and waits for it only as long as the caller allows.
//
// posix_spawn rather than Foundation's Process: the child must start with an empty signal mask
// and default dispositions, as from a shell; test threads block most signals, and Process would
// pass that mask on. Files rather than pipes, so a chatty child never blocks on a full pipe.
import CLinux
import Foundation
import Glibc

/// How a child ended: its exit status, or the signal that killed it.
struct Termination: Equatable, CustomStringConvertible {
    let status: Int32
    let signal: Int32

    var description: String { signal != 0 ? "killed by signal \(signal)" : "exit status \(status)" }
}

final class ChildProcess {
    let commandLine: String
    let pid: pid_t
    private let directory: URL
    private var reaped: Termination?

    init(_ executable: String, _ arguments: [String], standardInput: String? = nil) throws {
        commandLine = ([executable] + arguments).joined(separator: " ")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ring-client-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var inputPath = "/dev/null"
        if let standardInput {
            inputPath = directory.appendingPathComponent("stdin").path
            try standardInput.write(toFile: inputPath, atomically: true, encoding: .utf8)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Only stdin, stdout and stderr: the test runner's own descriptors that lack close-on-exec
        // must not reach the child, or they would count in its descriptor baseline.
        _ = ringd_spawn_close_from(&actions, 3)
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, inputPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, directory.appendingPathComponent("stdout").path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, directory.appendingPathComponent("stderr").path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
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
        guard result == 0 else { throw TestFailure("posix_spawn \(executable) failed: \(result)") }
        self.pid = pid
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    var standardOutput: String { (try? String(contentsOf: directory.appendingPathComponent("stdout"), encoding: .utf8)) ?? "" }
    var standardError: String { (try? String(contentsOf: directory.appendingPathComponent("stderr"), encoding: .utf8)) ?? "" }

    /// How the child ended, or nil while it runs.
    var termination: Termination? {
        if let reaped { return reaped }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        let signal = status & 0x7F
        reaped = Termination(status: signal == 0 ? (status >> 8) & 0xFF : 0, signal: signal)
        return reaped
    }

    /// Waits for the child to end; kills it and throws if it takes longer than `timeout`.
    @discardableResult
    func waitForExit(within timeout: Duration) throws -> Termination {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let termination { return termination }
            usleep(10_000)
        }
        stop()
        throw TestFailure("`\(commandLine)` still running after \(timeout); killed it.\nstdout:\n\(standardOutput)\nstderr:\n\(standardError)")
    }

    /// Kills the child if it still runs, and reaps it.
    func stop() {
        guard termination == nil else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        reaped = Termination(status: 0, signal: SIGKILL)
    }
}

/// Runs `ring-client` with `arguments` to its end (at most `timeout`) and returns what it did.
struct ClientRun: CustomStringConvertible {
    let termination: Termination
    let standardOutput: String
    let standardError: String
    let commandLine: String

    var outputLines: [String] { standardOutput.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }

    var description: String { "`\(commandLine)` ended with \(termination)\nstdout:\n\(standardOutput)\nstderr:\n\(standardError)" }

    /// The --json summary: the last stdout line that parses as a JSON object.
    func json() throws -> [String: Any] {
        for line in outputLines.reversed() {
            if let data = line.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                return object
            }
        }
        throw TestFailure("no JSON summary in the output of \(self)")
    }
}

func runClient(_ arguments: [String], standardInput: String? = nil, timeout: Duration = .seconds(60)) throws -> ClientRun {
    let child = try ChildProcess(try Binaries.ringClient(), arguments, standardInput: standardInput)
    let termination = try child.waitForExit(within: timeout)
    return ClientRun(termination: termination, standardOutput: child.standardOutput,
                     standardError: child.standardError, commandLine: child.commandLine)
}
