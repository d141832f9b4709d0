// A real redis-server started for one test on a free loopback port, with no persistence, in a
// directory of its own; stopped (and, for the fault tests, killed and restarted on the same
// port) by the test. tools/setup.sh installs redis-server through apt-get when it is missing.
//
// Redis cannot pick its own port (`--port 0` turns TCP off), so the harness asks the kernel for
// a free one (bind to port 0, read it, close) and starts Redis on it; if another process takes
// the port in between, Redis exits with "Address already in use" and the harness tries again
// with a new one, up to five times. Redis is ready when a connection to it succeeds.
import Foundation
import Glibc

package final class RunningRedis {
    package private(set) var child: ChildProcess
    package let endpoint: Endpoint
    /// Given to every start, such as `--requirepass` or `--unixsocket`.
    package let options: [String]
    private let directory: URL

    /// `HOST:PORT`, as `cluster.redis` takes it.
    package var address: String { endpoint.description }

    /// Starts redis-server on 127.0.0.1, on a free port or on `port` (one a test reserved with
    /// `freePort`), and waits until it accepts connections.
    package init(port wanted: UInt16? = nil, options: [String] = [], startupTimeout: Duration = .seconds(20)) throws {
        self.options = options
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringd-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var failures: [String] = []
        for _ in 0..<(wanted == nil ? 5 : 1) {
            let port = try wanted ?? Self.freePort()
            let endpoint = Endpoint(host: "127.0.0.1", port: port)
            let child = try Self.start(on: port, in: directory, options: options)
            if let failure = Self.waitUntilReady(child, at: endpoint, within: startupTimeout) {
                failures.append(failure)
                child.stop()
                continue
            }
            self.child = child
            self.endpoint = endpoint
            return
        }
        throw HarnessFailure("redis-server did not start in 5 tries:\n" + failures.joined(separator: "\n"))
    }

    deinit {
        child.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Terminates Redis and waits for it; called in every test's `defer`.
    package func stop() {
        child.stop()
    }

    /// Kills Redis at once (SIGKILL, as a crash or a lost host would), and reaps it.
    package func kill() {
        child.send(signal: SIGKILL)
        _ = child.waitForExit(timeout: .seconds(10))
    }

    /// Starts a fresh Redis (empty: nothing is persisted) on the same port after `stop` or `kill`.
    package func restart(startupTimeout: Duration = .seconds(20)) throws {
        precondition(!child.isRunning, "restart() is for a Redis that was stopped or killed")
        child = try Self.start(on: endpoint.port, in: directory, options: options)
        if let failure = Self.waitUntilReady(child, at: endpoint, within: startupTimeout) {
            child.stop()
            throw HarnessFailure("redis-server did not start again on \(endpoint): \(failure)")
        }
    }

    /// The redis-server to run: on PATH, or where Debian puts it.
    package static func serverBinary() throws -> String { try binary("redis-server") }

    /// `name` (redis-server, redis-cli) on PATH, or where Debian puts it.
    package static func binary(_ name: String) throws -> String {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/bin:/usr/local/bin"
        guard
            let binary = path.split(separator: ":").map({ "\($0)/\(name)" })
                .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else {
            throw HarnessFailure("\(name) is not installed; tools/setup.sh (run by tools/test.sh) installs it")
        }
        return binary
    }

    private static func start(on port: UInt16, in directory: URL, options: [String]) throws -> ChildProcess {
        try ChildProcess(
            executable: try serverBinary(),
            arguments: [
                "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory.path,
                "--daemonize", "no", "--loglevel", "warning",
            ] + options)
    }

    /// Nil once a connection to `endpoint` succeeds; what went wrong if Redis exits or is too slow.
    private static func waitUntilReady(_ child: ChildProcess, at endpoint: Endpoint, within timeout: Duration) -> String? {
        let deadline = Deadline(after: timeout)
        while true {
            if let status = child.exitStatus { return "redis-server \(status)\n\(child.outputSummary)" }
            if (try? RedisConnection(to: endpoint)) != nil { return nil }
            if deadline.hasPassed { return "redis-server took over \(timeout) to accept a connection\n\(child.outputSummary)" }
            usleep(10_000)
        }
    }

    /// A loopback port nobody listens on right now (also for a Redis that is not there yet).
    package static func freePort() throws -> UInt16 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessFailure("socket: \(errnoName(errno))") }
        defer { close(descriptor) }
        try Endpoint(host: "127.0.0.1", port: 0).withSocketAddress { address, length in
            guard bind(descriptor, address, length) == 0 else { throw HarnessFailure("bind 127.0.0.1:0: \(errnoName(errno))") }
        }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0 else { throw HarnessFailure("getsockname: \(errnoName(errno))") }
        return UInt16(bigEndian: address.sin_port)
    }
}
