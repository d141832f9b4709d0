// A real redis-server for one test, on a free loopback port, with no persistence; killed and
// started again on the same port by the fault tests. Commands go through redis-cli, the tool a
// user types them into. tools/setup.sh installs both through apt-get when they are missing.
//
// Redis cannot pick its own port (`--port 0` turns TCP off), so the harness asks the kernel for a
// free one (bind to port 0, read it, close) and starts Redis there, trying a new port if Redis
// exits at once (another process took it meanwhile). Redis is ready when a connection succeeds.
import Foundation
import Glibc
import TestSupport

final class RedisServer {
    private(set) var child: ChildProcess
    let port: UInt16
    private let directory: URL
    /// Given to every start, such as `--requirepass`.
    private let options: [String]

    /// `HOST:PORT`, as `cluster.redis` takes it.
    var address: String { "127.0.0.1:\(port)" }

    /// Starts Redis on a free port, or on `port` (one a test reserved with `freePort`).
    init(port wanted: UInt16? = nil, options: [String] = []) throws {
        self.options = options
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringd-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var failures: [String] = []
        for _ in 0..<(wanted == nil ? 5 : 1) {
            let port = try wanted ?? Self.freePort()
            let child = try Self.start(on: port, in: directory, options: options)
            if let failure = Self.waitUntilReady(child, port: port) {
                failures.append(failure)
                child.stop()
                continue
            }
            self.child = child
            self.port = port
            return
        }
        throw HarnessFailure("redis-server did not start in 5 tries:\n" + failures.joined(separator: "\n"))
    }

    deinit {
        child.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    func stop() { child.stop() }

    /// SIGKILL, as a crash or a lost host would, and reaped.
    func kill() {
        child.send(signal: SIGKILL)
        _ = child.waitForExit(timeout: .seconds(10))
    }

    /// A fresh, empty Redis on the same port after `kill` or `stop`.
    func restart() throws {
        precondition(!child.isRunning, "restart() is for a Redis that was stopped or killed")
        child = try Self.start(on: port, in: directory, options: options)
        if let failure = Self.waitUntilReady(child, port: port) {
            child.stop()
            throw HarnessFailure("redis-server did not start again on port \(port): \(failure)")
        }
    }

    /// `redis-cli -p PORT ARGUMENTS...`, its reply as redis-cli prints it, without the newline.
    @discardableResult
    func command(_ arguments: String...) throws -> String {
        let password = options.firstIndex(of: "--requirepass").map { ["-a", options[$0 + 1], "--no-auth-warning"] } ?? []
        let run = try CompletedRun(
            executable: try Self.binary("redis-cli"), arguments: ["-p", String(port)] + password + arguments)
        guard run.status == .success else { throw HarnessFailure("redis-cli \(arguments): \(run.outputSummary)") }
        return run.standardOutput.trimmingCharacters(in: .newlines)
    }

    /// A loopback port nobody listens on right now (for a Redis that is not there yet).
    static func freePort() throws -> UInt16 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessFailure("socket: \(errnoName(errno))") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else { throw HarnessFailure("bind 127.0.0.1:0: \(errnoName(errno))") }
        return UInt16(bigEndian: address.sin_port)
    }

    private static func binary(_ name: String) throws -> String {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/bin:/usr/local/bin"
        guard
            let binary = path.split(separator: ":").map({ "\($0)/\(name)" })
                .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { throw HarnessFailure("\(name) is not installed; tools/setup.sh (run by tools/test.sh) installs it") }
        return binary
    }

    private static func start(on port: UInt16, in directory: URL, options: [String]) throws -> ChildProcess {
        try ChildProcess(
            executable: try binary("redis-server"),
            arguments: [
                "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory.path,
                "--daemonize", "no", "--loglevel", "warning",
            ] + options)
    }

    /// Nil once a connection succeeds; what went wrong if Redis exits or takes over 20 s.
    private static func waitUntilReady(_ child: ChildProcess, port: UInt16) -> String? {
        let deadline = Deadline(after: .seconds(20))
        while true {
            if let status = child.exitStatus { return "redis-server \(status)\n\(child.outputSummary)" }
            if (try? TestSocket(connectingTo: Endpoint(host: "127.0.0.1", port: port))) != nil { return nil }
            if deadline.hasPassed { return "redis-server took over 20 s to accept a connection\n\(child.outputSummary)" }
            usleep(10_000)
        }
    }
}
