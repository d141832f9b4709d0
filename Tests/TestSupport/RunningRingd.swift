// A `ringd` started for one test on port 0: it waits for the `listening on ADDRESS:PORT` lines
// ringd prints on stdout and hands back the addresses to connect to.
import Foundation
import Glibc

package final class RunningRingd {
    package let child: ChildProcess
    /// The addresses from the `listening on` lines, in the order ringd printed them.
    package let endpoints: [Endpoint]

    /// Starts ringd with `arguments` and waits up to `startupTimeout` for `expectedListeners`
    /// `listening on` lines. Fails with ringd's output if it exits first or is too slow.
    ///
    /// A `launcher` (a program and its arguments, such as `prlimit --nofile=64:64`) runs ringd
    /// after changing its environment; it must exec ringd, so that `pid` is ringd's own and /proc
    /// reads about it (descriptors, CPU time) are about ringd.
    package init(
        arguments: [String], expectedListeners: Int, startupTimeout: Duration = .seconds(20), launcher: [String] = [],
        executable: String? = nil
    ) throws {
        let ringd = try executable ?? RingdPaths.ringdBinary()
        // Every ringd reports its workers' counters at exit, for WorkerCounters.
        let arguments = executable == nil ? arguments + ["--stats-json"] : arguments
        child =
            launcher.isEmpty
            ? try ChildProcess(executable: ringd, arguments: arguments)
            : try ChildProcess(executable: launcher[0], arguments: Array(launcher.dropFirst()) + [ringd] + arguments)
        let deadline = Deadline(after: startupTimeout)
        while true {
            let found = try Self.listeningEndpoints(in: child.standardOutput)
            if found.count >= expectedListeners {
                endpoints = found
                return
            }
            if let status = child.exitStatus {
                throw HarnessFailure(
                    "ringd \(status) before printing \(expectedListeners) `listening on` line(s)\n"
                        + child.outputSummary)
            }
            if deadline.hasPassed {
                child.stop()
                throw HarnessFailure(
                    "ringd printed \(found.count) of \(expectedListeners) `listening on` line(s) "
                        + "within \(startupTimeout); it was stopped\n" + child.outputSummary)
            }
            usleep(5_000)
        }
    }

    /// Starts ringd on 127.0.0.1 port 0 with `workers` workers; `mode` is passed as `--mode` when
    /// given, and each setting as `--set KEY=VALUE`, in order.
    package convenience init(workers: Int, mode: String? = nil, settings: KeyValuePairs<String, String> = [:]) throws {
        var arguments = ["--workers", String(workers)]
        if let mode { arguments += ["--mode", mode] }
        for (key, value) in settings { arguments += ["--set", "\(key)=\(value)"] }
        try self.init(extraArguments: arguments)
    }

    /// Starts ringd listening on each of `listen` (e.g. `127.0.0.1:0`), with any extra arguments.
    package convenience init(listen: [String] = ["127.0.0.1:0"], extraArguments: [String] = []) throws {
        let listenArguments = listen.flatMap { ["--listen", $0] }
        try self.init(arguments: listenArguments + extraArguments, expectedListeners: listen.count)
    }

    /// Starts ringd listening on 127.0.0.1 with at most `limit` open descriptors (soft and hard):
    /// through prlimit(1) when it is installed, else through `sh -c 'ulimit -n LIMIT && exec "$0" "$@"'`.
    package static func withDescriptorLimit(_ limit: Int, extraArguments: [String]) throws -> RunningRingd {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/bin:/bin"
        let prlimit = path.split(separator: ":").map { "\($0)/prlimit" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        let launcher =
            prlimit.map { [$0, "--nofile=\(limit):\(limit)"] }
            ?? ["/bin/sh", "-c", "ulimit -n \(limit) && exec \"$0\" \"$@\""]
        return try RunningRingd(
            arguments: ["--listen", "127.0.0.1:0"] + extraArguments, expectedListeners: 1, launcher: launcher)
    }

    deinit {
        child.stop()
    }

    package var pid: pid_t { child.pid }

    /// The only listening address; for tests that start ringd with one `--listen`.
    package var endpoint: Endpoint { endpoints[0] }

    /// The only listening port, as the command lines of ring-client take it.
    package var port: Int { Int(endpoint.port) }

    /// Terminates ringd and waits for it; called in every test's `defer`.
    package func stop() {
        child.stop()
    }

    /// Waits until ringd's stderr holds `text` `count` times; ringd logs from its own threads.
    package func waitForLog(containing text: String, count: Int = 1, within timeout: Duration = .seconds(20)) throws {
        let deadline = Deadline(after: timeout)
        while child.standardError.components(separatedBy: text).count - 1 < count {
            guard !deadline.hasPassed else {
                throw HarnessFailure("ringd's stderr never said \"\(text)\" \(count) time(s):\n\(child.standardError)")
            }
            usleep(20_000)
        }
    }

    /// The `listening on` lines printed so far, the metrics endpoint's aside.
    package var listeningLines: [String] {
        child.standardOutput.split(separator: "\n").map(String.init).filter {
            $0.contains("listening on ") && !$0.hasPrefix(Self.metricsLinePrefix)
        }
    }

    /// `ringd: metrics listening on ADDRESS:PORT`, printed when metrics.listen is set.
    package static let metricsLinePrefix = "ringd: metrics listening on "

    /// The metrics endpoint from the `ringd: metrics listening on` line, once ringd printed it.
    package var metricsEndpoint: Endpoint? {
        let line = child.standardOutput.split(separator: "\n").first { $0.hasPrefix(Self.metricsLinePrefix) }
        return line.flatMap { Endpoint(parsing: String($0.dropFirst(Self.metricsLinePrefix.count))) }
    }

    /// Parses every service's `listening on HOST:PORT` in ringd's stdout (HOST may be `[v6]`);
    /// the metrics endpoint's line is not one of them.
    package static func listeningEndpoints(in output: String) throws -> [Endpoint] {
        var endpoints: [Endpoint] = []
        for line in output.split(separator: "\n") where !line.hasPrefix(metricsLinePrefix) {
            guard let marker = line.range(of: "listening on ") else { continue }
            let address = line[marker.upperBound...].prefix { !$0.isWhitespace }
            guard let endpoint = Endpoint(parsing: String(address)) else {
                throw HarnessFailure("cannot parse the address in ringd's line: \(line)")
            }
            endpoints.append(endpoint)
        }
        return endpoints
    }
}
