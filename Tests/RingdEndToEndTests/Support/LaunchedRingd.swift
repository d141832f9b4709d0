// ringd started through a launcher that changes its environment before exec, such as
// `prlimit --nofile=64:64`: the pid is ringd's own once the launcher has exec'd it, so /proc
// reads about it (descriptors, CPU time) are about ringd.
import Foundation
import Glibc

final class LaunchedRingd {
    let child: ChildProcess
    let endpoint: Endpoint

    /// Runs `launcher` with `launcherArguments`, then the ringd binary with `--listen
    /// 127.0.0.1:0` and `ringdArguments`, and waits for ringd's `listening on` line.
    init(launcher: String, launcherArguments: [String], ringdArguments: [String], startupTimeout: Duration = .seconds(20)) throws {
        child = try ChildProcess(
            executable: launcher,
            arguments: launcherArguments + [try RingdPaths.ringdBinary(), "--listen", "127.0.0.1:0"] + ringdArguments)
        let deadline = Deadline(after: startupTimeout)
        while true {
            if let found = try RunningRingd.listeningEndpoints(in: child.standardOutput).first {
                endpoint = found
                return
            }
            if let status = child.exitStatus {
                throw HarnessFailure("ringd \(status) before printing its `listening on` line\n\(child.outputSummary)")
            }
            if deadline.hasPassed {
                child.stop()
                throw HarnessFailure("ringd printed no `listening on` line within \(startupTimeout)\n\(child.outputSummary)")
            }
            usleep(5_000)
        }
    }

    deinit {
        child.stop()
    }

    var pid: pid_t { child.pid }

    /// Starts ringd with at most `limit` open descriptors (soft and hard): through prlimit(1)
    /// when it is installed, else through `sh -c 'ulimit -n LIMIT && exec "$0" "$@"'`.
    static func withDescriptorLimit(_ limit: Int, ringdArguments: [String]) throws -> LaunchedRingd {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/bin:/bin"
        let prlimit = path.split(separator: ":").map { "\($0)/prlimit" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        if let prlimit {
            return try LaunchedRingd(launcher: prlimit, launcherArguments: ["--nofile=\(limit):\(limit)"], ringdArguments: ringdArguments)
        }
        return try LaunchedRingd(
            launcher: "/bin/sh", launcherArguments: ["-c", "ulimit -n \(limit) && exec \"$0\" \"$@\""],
            ringdArguments: ringdArguments)
    }
}
