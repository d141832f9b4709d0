// Zero-downtime hand-over: `ringd --takeover PATH` takes the listening sockets of the ringd
// whose server.control_socket is PATH, accepts on them, and the old one stops accepting and
// serves its open connections until their clients close them (or server.drain_timeout), then
// exits 0. Under a connect storm and paced echo conversations, not one connection attempt is
// refused or reset, every byte comes back, and every connection is accepted by exactly one of
// the two. Every error (nobody at PATH, a second takeover, another user, a new process that
// fails or dies halfway) ends the new process with a named cause and leaves the old one serving.
import Foundation
import Glibc
import Synchronization
import TestSupport
import Testing

extension HardeningTests {
    @Suite("Hand-over (--takeover)")
    struct TakeoverTests {
        /// The old ringd: echo on 127.0.0.1:0 and a Unix socket, with a control socket.
        static func startOld(in directory: UnixSocketDirectory, _ arguments: [String] = []) throws -> RunningRingd {
            try RunningRingd(
                listen: ["127.0.0.1:0", "unix:" + directory.file("echo.sock")],
                extraArguments: [
                    "--workers", "2", "--set", "server.control_socket=\(directory.file("control.sock"))",
                    "--set", "server.drain_timeout=20s",
                ] + arguments)
        }

        /// The new ringd, taking over `old`'s two addresses with its own worker count.
        static func takeOver(
            _ old: RunningRingd, in directory: UnixSocketDirectory, workers: Int, launcher: [String] = []
        ) throws -> RunningRingd {
            try RunningRingd(
                arguments: takeoverArguments(old, in: directory, workers: workers), expectedListeners: 2,
                launcher: launcher)
        }

        static func takeoverArguments(_ old: RunningRingd, in directory: UnixSocketDirectory, workers: Int) -> [String] {
            [
                "--takeover", directory.file("control.sock"), "--listen", old.endpoints[0].description,
                "--listen", old.endpoints[1].description, "--workers", "\(workers)",
                "--set", "server.control_socket=\(directory.file("control.sock"))", "--set", "server.drain_timeout=20s",
            ]
        }

        /// One line echoed over a fresh connection to `endpoint`.
        static func echoOnce(_ endpoint: Endpoint, _ text: String) throws {
            let connection = try LineConnection(connectingTo: endpoint)
            defer { connection.socket.close() }
            try connection.send(text + "\n")
            let line = try connection.readLineText(within: .seconds(10))
            guard line == text + "\n" else { throw HarnessFailure("\(endpoint) echoed \(line.debugDescription) for \(text.debugDescription)") }
        }

        @Test("under a connect storm and paced echo conversations: none refused or reset, every byte back, each connection served once")
        func handOverUnderLoad() throws {
            let directory = try UnixSocketDirectory()
            let old = try Self.startOld(in: directory)
            defer { old.stop() }
            let storm = StormControl()

            // Paced conversations: a line every 20 ms, for about 3 s, through the hand-over.
            let paced = (0..<6).map { index in
                let endpoint = old.endpoints[index % 2]
                return BackgroundWork { try PacedEcho.run(endpoint, lines: 150, tag: "paced \(index)") }
            }
            // The storm: 3 clients on TCP and one on the Unix socket, a connection each time,
            // until 300 more after the hand-over (at most 20,000 each).
            let storms = (0..<4).map { index in
                let endpoint = old.endpoints[index == 3 ? 1 : 0]
                return BackgroundWork {
                    ConnectStorm.run(endpoint, tag: "storm \(index)", control: storm)
                }
            }
            while storm.progress.load(ordering: .relaxed) < 200 { usleep(1000) }

            let new = try Self.takeOver(old, in: directory, workers: 3)
            defer { new.stop() }
            storm.handedOver.store(true, ordering: .relaxed)

            let stormResults = try storms.map { try $0.join(timeout: .seconds(120)) }
            let pacedProblems = try paced.flatMap { try $0.join(timeout: .seconds(60)) }
            let stormFailures = stormResults.flatMap(\.failures)
            #expect(stormFailures.isEmpty, "\(stormFailures.count) storm connections failed: \(stormFailures.prefix(10))")
            #expect(pacedProblems.isEmpty, "\(pacedProblems)")
            #expect(stormResults.allSatisfy { $0.afterHandOver >= 300 }, "\(stormResults.map(\.afterHandOver))")

            // The old one has served its last conversation and exits 0; the new one serves.
            let oldStatus = try old.child.requireExit(within: .seconds(30))
            #expect(oldStatus == .success, "\(old.child.outputSummary)")
            try Self.echoOnce(new.endpoints[0], "after the hand-over, TCP")
            try Self.echoOnce(new.endpoints[1], "after the hand-over, Unix")
            #expect(directory.exists("echo.sock") && directory.exists("control.sock"), "the new ringd's socket files are gone")

            let total = stormResults.map(\.count).reduce(0, +) + paced.count + 2
            let oldCounters = try WorkerCounters(parsing: old.child.standardOutput)
            let newCounters = try new.child.terminateAndReadCounters()
            let accepted = (oldCounters.total("accepted") ?? 0) + (newCounters.total("accepted") ?? 0)
            #expect(
                accepted == total,
                "\(total) connections made, accepted: old \(oldCounters.total("accepted") ?? -1), new \(newCounters.total("accepted") ?? -1)")
            #expect(old.child.standardError.contains("hand-over: pid \(new.pid) accepts on 3 of 3 listening sockets"), "\(old.child.standardError)")
            #expect(!directory.exists("echo.sock"), "the Unix socket file outlived the last ringd")
        }

        @Test("an idle client of the old ringd is not closed by the hand-over: it is served when it speaks, then the old one exits 0")
        func idleClientsAreServedOut() throws {
            let directory = try UnixSocketDirectory()
            let old = try Self.startOld(in: directory)
            defer { old.stop() }
            let idle = try LineConnection(connectingTo: old.endpoints[0])
            let idleUnix = try LineConnection(connectingTo: old.endpoints[1])
            try idle.send("before\n")
            #expect(try idle.readLineText() == "before\n")
            try idleUnix.send("before\n")
            #expect(try idleUnix.readLineText() == "before\n")

            let new = try Self.takeOver(old, in: directory, workers: 1)
            defer { new.stop() }
            try old.waitForLog(containing: "stopped accepting")
            #expect(old.child.isRunning)
            try idle.send("after\n")
            #expect(try idle.readLineText() == "after\n")
            try idleUnix.send("after\n")
            #expect(try idleUnix.readLineText() == "after\n")
            idle.socket.close()
            idleUnix.socket.close()
            let status = try old.child.requireExit(within: .seconds(15))
            #expect(status == .success, "\(old.child.outputSummary)")
        }

        @Test("server.drain_timeout after a hand-over: a client still open then gets its end of stream, and the old ringd exits 0")
        func drainTimeoutEndsTheHandOver() throws {
            let directory = try UnixSocketDirectory()
            let old = try Self.startOld(in: directory, ["--set", "server.drain_timeout=1s"])
            defer { old.stop() }
            let idle = try LineConnection(connectingTo: old.endpoints[0])
            try idle.send("hello\n")
            #expect(try idle.readLineText() == "hello\n")

            let new = try Self.takeOver(old, in: directory, workers: 2)
            defer { new.stop() }
            let (bytes, end) = try idle.readToEnd(within: .seconds(15))
            #expect(bytes.isEmpty && end == .endOfStream, "got \(quoted(bytes)) then \(end)")
            #expect(try old.child.requireExit(within: .seconds(15)) == .success, "\(old.child.outputSummary)")
            try Self.echoOnce(new.endpoints[0], "served by the new one")
        }

        @Test("the new ringd tells systemd it is the main process: MAINPID=<its pid> on $NOTIFY_SOCKET")
        func newProcessSendsMainPID() throws {
            let directory = try UnixSocketDirectory()
            let notify = try NotifySocket(path: directory.file("notify.sock"))
            let old = try Self.startOld(in: directory)
            defer { old.stop() }
            let new = try Self.takeOver(
                old, in: directory, workers: 1, launcher: ["/usr/bin/env", "NOTIFY_SOCKET=\(directory.file("notify.sock"))"])
            defer { new.stop() }
            let message = try notify.receive(within: .seconds(10))
            #expect(message.split(separator: "\n").contains("MAINPID=\(new.pid)"), "\(message.debugDescription)")
        }
    }
}

/// Echo conversations at a walking pace: one line, its echo, 20 ms, the next.
enum PacedEcho {
    /// The problems of `lines` lines echoed over one connection; empty when every byte came back.
    static func run(_ endpoint: Endpoint, lines: Int, tag: String) throws -> [String] {
        let connection = try LineConnection(connectingTo: endpoint)
        defer { connection.socket.close() }
        for index in 0..<lines {
            let line = "\(tag) line \(index) \(String(repeating: "x", count: index % 50))\n"
            do {
                try connection.send(line)
                let echoed = try connection.readLineText(within: .seconds(10))
                if echoed != line { return ["\(tag): line \(index) came back as \(echoed.debugDescription)"] }
            } catch {
                return ["\(tag): line \(index): \(error)"]
            }
            usleep(20_000)
        }
        return []
    }
}

/// What the test thread tells the storm clients, and how far they got.
final class StormControl: Sendable {
    /// The new ringd listens: from now on, connections count as after the hand-over.
    let handedOver = Atomic<Bool>(false)
    /// Connections made so far, by every storm client.
    let progress = Atomic<Int>(0)
}

/// New connections one after another, each echoing a line and closing, until 300 after the
/// hand-over (at most 20,000).
enum ConnectStorm {
    struct Result: Sendable {
        var count = 0
        var afterHandOver = 0
        var failures: [String] = []
    }

    static func run(_ endpoint: Endpoint, tag: String, control: StormControl) -> Result {
        var result = Result()
        while result.count < 20_000 && result.afterHandOver < 300 {
            let text = "\(tag) connection \(result.count)"
            let after = control.handedOver.load(ordering: .relaxed)
            do {
                try HardeningTests.TakeoverTests.echoOnce(endpoint, text)
            } catch {
                result.failures.append("\(text): \(error)")
            }
            result.count += 1
            if after { result.afterHandOver += 1 }
            control.progress.add(1, ordering: .relaxed)
        }
        return result
    }
}

/// A datagram socket standing in for systemd's $NOTIFY_SOCKET.
final class NotifySocket {
    private let descriptor: Int32

    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let bound = try Endpoint(unixPath: path).withSocketAddress { bind(descriptor, $0, $1) }
        guard descriptor >= 0, bound == 0 else { throw HarnessFailure("notify socket \(path): \(errnoName(errno))") }
    }

    deinit { close(descriptor) }

    func receive(within timeout: Duration) throws -> String {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, Int32(timeout.components.seconds * 1000)) == 1 else {
            throw HarnessFailure("nothing on the notify socket within \(timeout)")
        }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &bytes, bytes.count, 0)
        return String(decoding: bytes[..<max(0, count)], as: UTF8.self)
    }
}
