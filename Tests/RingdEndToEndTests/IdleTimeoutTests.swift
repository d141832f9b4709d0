// Idle timeouts: `server.idle_timeout` closes a client that has sent nothing for that long, while
// a client that keeps sending stays. Broadcast subscribers only listen, so they have their own
// `broadcast.idle_timeout`, 0s (never) by default: server.idle_timeout does not touch them.
import Glibc
import TestSupport
import Testing

extension HardeningTests {
    @Suite("Idle timeouts")
    struct IdleTimeoutTests {
        @Test("server.idle_timeout=1s: a silent echo client gets end of stream; one sending every 200 ms stays and is echoed exactly")
        func silentEchoClientIsClosed() throws {
            let ringd = try RunningRingd(extraArguments: ["--workers", "2", "--set", "server.idle_timeout=1s"])
            defer { ringd.stop() }
            let outcome = try Self.watchSilentAndTalkingClients(ringd, talkingFor: .seconds(2))

            #expect(outcome.silentEnd == .endOfStream, "the silent client: \(outcome.silentEnd.map(String.init(describing:)) ?? "still open")")
            #expect(outcome.silentBytes.isEmpty, "the silent client got \(quoted(outcome.silentBytes))")
            #expect(outcome.talkingEnd == nil, "the talking client was disconnected: \(outcome.talkingEnd!)")
            #expect(outcome.talkingEchoed == outcome.talkingSent, "the talking client sent \(quoted(outcome.talkingSent)), got \(quoted(outcome.talkingEchoed))")

            let counters = try Self.countersAtExit(ringd)
            #expect(counters.total("closed_idle") == 1, "\(counters.lines.joined(separator: "\n"))")
        }

        @Test("broadcast: a subscriber that sends nothing stays past server.idle_timeout, since broadcast.idle_timeout is 0s")
        func broadcastSubscribersAreKeptByDefault() throws {
            let ringd = try RunningRingd(extraArguments: [
                "--mode", "broadcast", "--workers", "2", "--set", "broadcast.interval=100ms", "--set", "server.idle_timeout=1s",
            ])
            defer { ringd.stop() }
            let subscriber = try LineConnection(connectingTo: ringd.endpoint)
            var heartbeats = 0
            // Three times server.idle_timeout without a byte from the subscriber.
            let ended = try LineConnection.pump([subscriber], within: .seconds(3)) {
                while subscriber.nextLine() != nil { heartbeats += 1 }
                return subscriber.hasEnded
            }

            #expect(!ended, "the subscriber was disconnected (\(subscriber.end.map(String.init(describing:)) ?? "")) after \(heartbeats) heartbeats")
            #expect(heartbeats >= 5, "the subscriber got \(heartbeats) heartbeats in 3 s at one per 100 ms")
            subscriber.socket.close()

            let counters = try Self.countersAtExit(ringd)
            #expect(counters.total("closed_idle") == 0, "\(counters.lines.joined(separator: "\n"))")
        }

        @Test("broadcast.idle_timeout=1s: a silent subscriber is closed, one sending every 200 ms keeps its heartbeats")
        func broadcastIdleTimeoutClosesSilentSubscribers() throws {
            let ringd = try RunningRingd(extraArguments: [
                "--mode", "broadcast", "--workers", "2", "--set", "broadcast.interval=100ms", "--set", "broadcast.idle_timeout=1s",
            ])
            defer { ringd.stop() }
            let outcome = try Self.watchSilentAndTalkingClients(ringd, talkingFor: .seconds(2))

            #expect(outcome.silentEnd != nil, "the silent subscriber is still connected")
            let silentText = String(decoding: outcome.silentBytes, as: UTF8.self)
            #expect(silentText.isEmpty || (silentText.hasPrefix("seq=") && silentText.hasSuffix("\n")), "the silent subscriber got \(quoted(outcome.silentBytes))")
            #expect(outcome.talkingEnd == nil, "the talking subscriber was disconnected: \(outcome.talkingEnd!)")
            let heartbeats = outcome.talkingEchoed.filter { $0 == 0x0A }.count
            #expect(heartbeats >= 5, "the talking subscriber got \(heartbeats) heartbeats")

            let counters = try Self.countersAtExit(ringd)
            #expect(counters.total("closed_idle") == 1, "\(counters.lines.joined(separator: "\n"))")
        }

        struct Outcome {
            var silentBytes: [UInt8]
            var silentEnd: ConnectionEnd?
            var talkingSent: [UInt8]
            var talkingEchoed: [UInt8]
            var talkingEnd: ConnectionEnd?
        }

        /// Connects a silent client and a talking one that sends a line every 200 ms; waits (at
        /// most 10 s) until the silent one is closed, then keeps talking for `talkingFor` more.
        static func watchSilentAndTalkingClients(_ ringd: RunningRingd, talkingFor: Duration) throws -> Outcome {
            let silent = try LineConnection(connectingTo: ringd.endpoint)
            let talking = try LineConnection(connectingTo: ringd.endpoint)
            var sent: [UInt8] = []
            var sequence = 0
            func talk() throws {
                let line = Array("line \(sequence)\n".utf8)
                sequence += 1
                sent += line
                try talking.queue(line)
            }
            var silentBytes: [UInt8] = []
            func takeSilent() { silentBytes += silent.takeAll() }

            let deadline = Deadline(after: .seconds(10))
            var afterClose: Deadline?
            while !deadline.hasPassed {
                try talk()
                _ = try LineConnection.pump([silent, talking], within: .milliseconds(200)) { false }
                takeSilent()
                if talking.hasEnded { break }
                if silent.hasEnded && afterClose == nil { afterClose = Deadline(after: talkingFor) }
                if let afterClose, afterClose.hasPassed { break }
            }
            // The last line's echo.
            _ = try LineConnection.pump([talking], within: .seconds(5)) {
                talking.totalBytesReceived >= sent.count || talking.hasEnded
            }
            let outcome = Outcome(
                silentBytes: silentBytes, silentEnd: silent.end, talkingSent: sent, talkingEchoed: talking.takeAll(),
                talkingEnd: talking.end)
            silent.socket.close()
            talking.socket.close()
            return outcome
        }

        /// Stops ringd with SIGTERM and returns the counters its workers printed.
        static func countersAtExit(_ ringd: RunningRingd, sourceLocation: SourceLocation = #_sourceLocation) throws -> WorkerCounters {
            let counters = try ringd.child.terminateAndReadCounters(sourceLocation: sourceLocation)
            #expect(counters.byWorker.count == 2, "\(ringd.child.standardError)", sourceLocation: sourceLocation)
            return counters
        }
    }
}
