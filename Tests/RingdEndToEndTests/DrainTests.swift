// Draining on SIGTERM: ringd stops accepting, closes idle clients at once, and lets each client
// with queued output read all of it before the close, for up to `server.drain_timeout`; then it
// exits 0. A second signal during the drain means "now": exit status 1 and a notice naming it.
// On exit every worker reports its counters (--stats-json), and they add up to what the clients did.
import Glibc
import TestSupport
import Testing

extension HardeningTests {
    @Suite("Drain on SIGTERM")
    struct DrainTests {
        /// The client's megabytes must all be inside ringd (its queue and the socket buffers on the
        /// way back) before the signal: raw echo holds received bytes in its receive buffers until
        /// they are sent, so there must be room for them (16 MiB of buffers, a 16 MiB output limit).
        static let roomForQueuedEcho = [
            "--workers", "2", "--set", "io.buffer_count=4096", "--set", "io.output_limit=16MiB",
        ]

        @Test("SIGTERM: a client owed 4 MiB of echo reads every byte of it, then end of stream, then ringd exits 0")
        func drainDeliversEveryQueuedByte() throws {
            let ringd = try RunningRingd(extraArguments: Self.roomForQueuedEcho + ["--set", "server.drain_timeout=20s"])
            defer { ringd.stop() }
            var random = SeededRandom(seed: testSeed(default: 101))

            // The busy client sends 4 MiB and reads nothing, until ringd has read every byte of it:
            // all of it is then echoed-but-unread, in ringd's queue or in socket buffers.
            let busy = try TestSocket(connectingTo: ringd.endpoint)
            let payload = random.bytes(count: 4 * 1024 * 1024)
            try busy.sendAll(payload)
            let queues = TCPQueues.waitUntilServerHasReadEverything(from: try busy.localEndpoint, server: ringd.endpoint)
            try #require(
                queues?.clientUnacknowledged == 0 && queues?.serverUnread == 0,
                "ringd did not take the 4 MiB before the signal: \(queues.map(String.init(describing:)) ?? "no such connection")")

            ringd.child.send(signal: SIGTERM)

            let echoed = try busy.receiveUntilEndOfStream(idleTimeout: .seconds(20))
            #expect(echoed.count == payload.count, "the busy client read \(echoed.count) of \(payload.count) bytes, then end of stream")
            let differing = firstDifference(payload, echoed[...])
            #expect(differing == nil, "the echo differs from what was sent at byte \(differing ?? 0)")
            busy.close()

            let status = try ringd.child.requireExit(within: .seconds(20))
            #expect(status == .success, "\(status)\n\(ringd.child.outputSummary)")
        }

        @Test("SIGTERM: 8 idle clients, on both workers, get end of stream at once while another client still drains")
        func idleClientsAreClosedAtOnce() throws {
            let ringd = try RunningRingd(extraArguments: ["--workers", "2", "--set", "server.drain_timeout=20s"])
            defer { ringd.stop() }

            // Eight idle clients, so that both workers hold some (all eight and the stalled one
            // on one worker has odds of 1 in 256); each has echoed a line, so it is accepted.
            let idle = try (0..<8).map { _ in try LineConnection(connectingTo: ringd.endpoint) }
            for (index, connection) in idle.enumerated() {
                try connection.send("idle \(index)\n")
                #expect(try connection.readLine(within: .seconds(10)) == Array("idle \(index)\n".utf8))
            }
            // A stalled client holds output it does not read, so the drain lasts.
            let stalled = try TestSocket(connectingTo: ringd.endpoint, receiveBufferSize: 64 * 1024)
            _ = try stalled.sendUntilStalled(filler(byteCount: 32 * 1024 * 1024))

            ringd.child.send(signal: SIGTERM)
            let allEnded = try LineConnection.pump(idle, within: .seconds(10)) { idle.allSatisfy(\.hasEnded) }

            let open = idle.indices.filter { !idle[$0].hasEnded }
            let peers = try open.map { try idle[$0].socket.localEndpoint }
            let states = peers.map { TCPConnectionStates.serverSide(of: $0, server: ringd.endpoint) ?? "gone" }
            #expect(
                allEnded,
                """
                idle clients \(open) still open 10 s after SIGTERM while ringd drains; ringd's ends: \(states), \
                ringd holds \((try? ProcessDescriptors.count(of: ringd.pid)) ?? -1) descriptors
                """)
            for (index, connection) in idle.enumerated() where connection.hasEnded {
                #expect(connection.end == .endOfStream && connection.takeAll().isEmpty, "idle client \(index) ended with \(connection.end!)")
            }
            #expect(ringd.child.isRunning, "ringd exited although the stalled client holds output\n\(ringd.child.outputSummary)")

            stalled.close()
            idle.forEach { $0.socket.close() }
            let status = try ringd.child.requireExit(within: .seconds(20))
            #expect(status == .success, "\(status)\n\(ringd.child.outputSummary)")
        }

        @Test("a client connecting after SIGTERM is refused, not left waiting while ringd drains")
        func connectionsAfterTheSignalAreRefused() throws {
            // One worker, held in its drain by a stalled client: with more, a worker with nothing
            // to drain stops at once and closes its listener, and where a new client lands is luck.
            let ringd = try RunningRingd(extraArguments: ["--workers", "1", "--set", "server.drain_timeout=20s"])
            defer { ringd.stop() }

            let stalled = try Self.drainHeldOpenByStalledClient(ringd)

            var outcome: String
            do {
                let late = try LineConnection(connectingTo: ringd.endpoint)
                try? late.send("anyone?\n")
                let ended = try LineConnection.pump([late], within: .seconds(5)) { late.hasEnded }
                let bytes = late.takeAll()
                #expect(bytes.isEmpty, "a client connecting after SIGTERM was answered: \(quoted(bytes))")
                outcome = ended
                    ? "refused: \(late.end!)"
                    : "not refused: the connection was established and then neither served nor closed for 5 s "
                        + "(it waits in the listen backlog of a listener ringd no longer accepts on)"
                #expect(ended, "a client connecting after SIGTERM while ringd drains: \(outcome)")
            } catch let error as HarnessFailure where error.description.contains("ECONNREFUSED") {
                outcome = "refused: ECONNREFUSED"
            }
            #expect(ringd.child.isRunning, "ringd had already exited, so this says nothing about the drain (\(outcome))")

            stalled.close()
            let status = try ringd.child.requireExit(within: .seconds(20))
            #expect(status == .success, "\(status)\n\(ringd.child.outputSummary)")
        }

        @Test("server.drain_timeout=1s: a client that never reads does not keep ringd from exiting 0")
        func drainDeadlineEndsTheWait() throws {
            let ringd = try RunningRingd(extraArguments: ["--workers", "2", "--set", "server.drain_timeout=1s", "--log-level", "debug"])
            defer { ringd.stop() }
            let stalled = try TestSocket(connectingTo: ringd.endpoint, receiveBufferSize: 64 * 1024)
            let address = try stalled.localEndpoint
            _ = try stalled.sendUntilStalled(filler(byteCount: 32 * 1024 * 1024))

            ringd.child.send(signal: SIGTERM)
            let status = try ringd.child.requireExit(within: .seconds(15))

            #expect(status == .success, "\(status)\n\(ringd.child.outputSummary)")
            // Counted and logged: the one client still owed output when the deadline came.
            let counters = try WorkerCounters(parsing: ringd.child.standardOutput)
            let report = counters.lines.joined(separator: "\n")
            #expect(counters.total("accepted") == 1 && counters.total("closed") == 1, "\(report)")
            #expect(counters.total("closed_at_drain_deadline") == 1, "\(report)")
            #expect(ringd.child.standardError.contains("peer=\(address): closed at server.drain_timeout with "),
                    "\(ringd.child.standardError)")
            // The stalled client's connection went with ringd: it has ended, one way or the other.
            let connection = LineConnection(socket: stalled)
            let ended = try LineConnection.pump([connection], within: .seconds(10)) { connection.hasEnded }
            #expect(ended, "the stalled client's connection is still open after ringd exited")
        }

        @Test("a second SIGTERM during the drain exits at once with status 1 and says `second signal`")
        func secondSignalExitsAtOnce() throws {
            // One worker, so the idle client that shows the drain has begun shares it with the
            // stalled one.
            let ringd = try RunningRingd(extraArguments: ["--workers", "1", "--set", "server.drain_timeout=60s"])
            defer { ringd.stop() }
            // Two signals sent back to back can merge into one pending signal: the second is sent
            // only once the drain has begun, so ringd has taken the first.
            let stalled = try Self.drainHeldOpenByStalledClient(ringd)
            defer { stalled.close() }
            try #require(ringd.child.isRunning, "ringd exited on the first signal although a client held output\n\(ringd.child.outputSummary)")
            ringd.child.send(signal: SIGTERM)
            let status = try ringd.child.requireExit(within: .seconds(10))

            #expect(status == ExitStatus(code: 1, killedBySignal: false), "\(status)\n\(ringd.child.outputSummary)")
            #expect(ringd.child.standardError.contains("second signal"), "\(ringd.child.outputSummary)")
        }

        @Test("on exit each worker prints its counters, and they add up: accepted, closed, closed idle, refused by access list")
        func exitCountersAddUp() throws {
            let ringd = try RunningRingd(extraArguments: [
                "--workers", "2", "--set", "server.idle_timeout=1s", "--set", #"access.deny=["127.0.0.2/32"]"#,
            ])
            defer { ringd.stop() }
            let baseline = try ProcessDescriptors.count(of: ringd.pid)
            var random = SeededRandom(seed: testSeed(default: 105))

            // 10 clients from 127.0.0.2, refused by the access list: no byte, then the end.
            for index in 0..<10 {
                let (bytes, _) = try SourceBoundClient.connectAndReadToEnd(from: "127.0.0.2", to: ringd.endpoint)
                #expect(bytes.isEmpty, "refused client \(index) got \(quoted(bytes))")
            }
            // 6 clients echo and close; 2 send nothing and are closed as idle.
            let echoing = try (0..<6).map { _ in
                EchoConversation(socket: try TestSocket(connectingTo: ringd.endpoint), payload: random.bytes(count: 16 * 1024))
            }
            EchoExchange.run(echoing)
            let problems = EchoExchange.problems(of: echoing)
            #expect(problems.isEmpty, "\(problems)")
            echoing.forEach { $0.socket.close() }
            let silent = try (0..<2).map { _ in try LineConnection(connectingTo: ringd.endpoint) }
            for connection in silent {
                let (bytes, end) = try connection.readToEnd(within: .seconds(10))
                #expect(bytes.isEmpty && end == .endOfStream, "an idle client got \(quoted(bytes)) then \(end)")
                connection.socket.close()
            }
            let settled = try ProcessDescriptors.waitForCount(of: ringd.pid, toBecome: baseline)
            #expect(settled == baseline, "ringd holds \(settled) descriptors; it held \(baseline) before any connection")

            let counters = try ringd.child.terminateAndReadCounters()
            #expect(counters.byWorker.keys.sorted() == [0, 1], "every worker in the --stats-json line:\n\(ringd.child.standardError)")
            let report = counters.lines.joined(separator: "\n")
            #expect(counters.total("accepted") == 8, "6 echo clients and 2 idle ones:\n\(report)")
            #expect(counters.total("closed") == 8, "every accepted client was closed before the exit:\n\(report)")
            #expect(counters.total("closed_idle") == 2, "\(report)")
            #expect(counters.total("refused_by_access_list") == 10, "\(report)")
            #expect(counters.total("refused_table_full") == 0, "\(report)")
            #expect(counters.total("cut_output_cap") == 0, "\(report)")
        }

        /// Sends SIGTERM to ringd with a drain that lasts, and returns once it has begun: a
        /// stalled client (it sent a lot and reads nothing) holds output, and an idle client that
        /// has echoed a line gets end of stream, which says ringd is draining. Returns the stalled
        /// client, whose close lets the drain end.
        static func drainHeldOpenByStalledClient(_ ringd: RunningRingd) throws -> TestSocket {
            let stalled = try TestSocket(connectingTo: ringd.endpoint, receiveBufferSize: 64 * 1024)
            _ = try stalled.sendUntilStalled(filler(byteCount: 32 * 1024 * 1024))
            let idle = try LineConnection(connectingTo: ringd.endpoint)
            try idle.send("hello\n")
            _ = try idle.readLine(within: .seconds(10))

            ringd.child.send(signal: SIGTERM)
            _ = try idle.readToEnd(within: .seconds(10))
            return stalled
        }
    }
}
