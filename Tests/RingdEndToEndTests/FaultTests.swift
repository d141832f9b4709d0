// Faults a server meets in the wild: a burst of tens of megabytes, slowloris clients that trickle
// a byte a second, a client that sends and never reads, thousands of clients that reset mid-stream
// or connect and leave at once, and a receive buffer ring far too small for the load. In each,
// the bytes of every well-behaved client come back exactly, and afterwards ringd is unharmed: the
// bystanders lost nothing, a new client is served, its descriptor count is back to its baseline.
import Glibc
import TestSupport
import Testing

extension HardeningTests {
    @Suite("Faults")
    struct FaultTests {
        @Test("a 64 MiB burst on one connection, read while it is written: every byte back, in order")
        func sixtyFourMebibyteBurst() throws {
            let ringd = try RunningRingd(extraArguments: ["--workers", "2"])
            defer { ringd.stop() }
            let baseline = try ProcessDescriptors.count(of: ringd.pid)
            let seed = testSeed(default: 401)
            var random = SeededRandom(seed: seed)
            let bystanders = try Aftermath.openBystanders(2, to: ringd.endpoint, random: &random)

            let socket = try TestSocket(connectingTo: ringd.endpoint)
            let conversation = EchoConversation(
                socket: socket, payload: random.bytes(count: 64 * 1024 * 1024),
                plan: .random(SeededRandom(seed: random.next()), range: 1024...(1024 * 1024)))
            EchoExchange.run([conversation])
            #expect(conversation.problem == nil, "seed \(seed): \(conversation.problem ?? "")\n\(ringd.child.standardError)")
            socket.close()

            let problems = try Aftermath.problems(of: ringd, bystanders: bystanders, baseline: baseline, random: &random)
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        }

        static let slowlorisCount = 200

        @Test("200 slowloris clients, one byte a second without a newline, in line mode: a normal client is served meanwhile, and each partial line is kept")
        func slowloris() throws {
            let ringd = try RunningRingd(extraArguments: ["--workers", "2", "--set", "echo.lines=true"])
            defer { ringd.stop() }
            let baseline = try ProcessDescriptors.count(of: ringd.pid)
            var random = SeededRandom(seed: testSeed(default: 402))

            let normal = try LineConnection(connectingTo: ringd.endpoint)
            let slow = try (0..<Self.slowlorisCount).map { _ in try LineConnection(connectingTo: ringd.endpoint) }
            // Client i trickles the three digits of i, one a second.
            let partialLines = (0..<Self.slowlorisCount).map { Array(String(format: "%03d", $0).utf8) }
            var normalLines = 0
            var normalProblems: [String] = []
            for round in 0..<3 {
                for (index, connection) in slow.enumerated() { try connection.send([partialLines[index][round]]) }
                // A second of normal traffic before the next byte.
                let roundEnd = Deadline(after: .seconds(1))
                while !roundEnd.hasPassed {
                    let line = linePayload(byteCount: random.logUniform(in: 1...4000), random: &random)
                    try normal.send(line)
                    var replies: [UInt8] = []
                    let expectedLines = line.filter { $0 == 0x0A }.count
                    for _ in 0..<expectedLines { replies += try normal.readLine(within: .seconds(10)) }
                    if replies != line { normalProblems.append("round \(round): sent \(quoted(line)), got \(quoted(replies))") }
                    normalLines += expectedLines
                }
            }
            #expect(normalProblems.isEmpty, "\(normalProblems.prefix(3))")
            #expect(normalLines > 0)

            // No slow client was answered or dropped; each newline now completes its line.
            for connection in slow { try connection.receiveAvailable() }
            let ended = slow.indices.filter { slow[$0].hasEnded }
            let answered = slow.indices.filter { slow[$0].totalBytesReceived > 0 }
            #expect(ended.isEmpty, "slow clients \(ended.prefix(10)) were disconnected: \(ended.prefix(3).map { slow[$0].end! })")
            #expect(answered.isEmpty, "slow clients \(answered.prefix(10)) were answered before their newline")
            for connection in slow { try connection.queue([0x0A]) }
            let done = try LineConnection.pump(slow, within: .seconds(20)) {
                slow.allSatisfy { $0.totalBytesReceived >= 4 || $0.hasEnded }
            }
            #expect(done, "replies: \(slow.map(\.totalBytesReceived))")
            let wrong = slow.indices.filter { slow[$0].takeAll() != partialLines[$0] + [0x0A] }
            #expect(wrong.isEmpty, "slow clients \(wrong.prefix(10)) did not get their line back exactly")

            normal.socket.close()
            slow.forEach { $0.socket.close() }
            let problems = try Aftermath.problems(of: ringd, bystanders: [], baseline: baseline, random: &random)
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        }

        /// The ceiling on ringd's resident memory while a client pushes 32 MiB without reading.
        /// Everything ringd allocates is bounded by its configuration: at the defaults, per worker
        /// 1024 x 4 KiB receive buffers (4 MiB) and 64 MiB of output memory, and per echo client
        /// io.output_limit (1 MiB) queued before it stops reading. With 2 workers that is under
        /// 140 MiB even if every page were touched, plus the binary and its tables (about 20 MiB
        /// for a debug build; about 25 MiB is what it uses here). 256 MiB leaves room for
        /// allocator slack, so only memory the configuration does not account for crosses it.
        static let residentMemoryCeiling = 256 * 1024 * 1024

        @Test("a client sends 32 MiB and never reads: ringd stops reading from it, keeps serving others, and stays under 256 MiB", arguments: [false, true])
        func clientThatNeverReads(lineMode: Bool) throws {
            let ringd = try RunningRingd(extraArguments: ["--workers", "2", "--set", "server.drain_timeout=1s"] + (lineMode ? ["--set", "echo.lines=true"] : []))
            defer { ringd.stop() }
            let baseline = try ProcessDescriptors.count(of: ringd.pid)
            var random = SeededRandom(seed: testSeed(default: 403))
            let bystanders = try Aftermath.openBystanders(2, to: ringd.endpoint, random: &random)

            let payload = filler(byteCount: 32 * 1024 * 1024)
            let stalled = try TestSocket(connectingTo: ringd.endpoint)
            let sent = try stalled.sendUntilStalled(payload)

            // Back-pressure: the client could not get its 32 MiB in, and what it did send waits
            // unread on ringd's end of the connection.
            #expect(sent < payload.count, "ringd took all \(payload.count) bytes from a client that reads nothing")
            let queues = TCPQueues.of(client: try stalled.localEndpoint, server: ringd.endpoint)
            #expect((queues?.serverUnread ?? 0) > 0, "ringd's end of the stalled connection should hold unread bytes: \(queues.map(String.init(describing:)) ?? "no connection")")

            // Others are served while the stalled client holds its output.
            let others = try (0..<4).map { _ in
                EchoConversation(socket: try TestSocket(connectingTo: ringd.endpoint), payload: linePayload(byteCount: 1024 * 1024, random: &random))
            }
            EchoExchange.run(others)
            let otherProblems = EchoExchange.problems(of: others)
            #expect(otherProblems.isEmpty, "\(otherProblems.joined(separator: "\n"))")
            others.forEach { $0.socket.close() }
            let resident = try ProcessResources.residentBytes(of: ringd.pid)
            #expect(
                resident < Self.residentMemoryCeiling,
                "ringd's VmRSS is \(resident / 1024) KiB; the ceiling is \(Self.residentMemoryCeiling / 1024) KiB")

            stalled.close()
            let problems = try Aftermath.problems(of: ringd, bystanders: bystanders, baseline: baseline, random: &random)
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        }

        /// More stalled clients than one worker's receive buffers can queue output for at
        /// io.output_limit each: 1024 x 4 KiB buffers hold four 1 MiB queues.
        static let stalledClientCount = 8

        /// With bulk buffers (the default) the stalled clients stream into them first and take
        /// the bulk pool; the others must then be served from the main buffers.
        @Test(
            "8 clients that never read on one worker (raw echo) leave receive buffers for the others: new clients are still echoed",
            arguments: [64, 0])
        func stalledClientsDoNotStarveOthers(bulkBuffers: Int) throws {
            let ringd = try RunningRingd(extraArguments: [
                "--workers", "1", "--set", "server.drain_timeout=1s", "--set", "io.bulk_buffer_count=\(bulkBuffers)",
            ])
            defer { ringd.stop() }
            let baseline = try ProcessDescriptors.count(of: ringd.pid)
            var random = SeededRandom(seed: testSeed(default: 407))
            let bystanders = try Aftermath.openBystanders(2, to: ringd.endpoint, random: &random)

            let payload = filler(byteCount: 32 * 1024 * 1024)
            var stalled: [TestSocket] = []
            var sent: [Int] = []
            for _ in 0..<Self.stalledClientCount {
                let socket = try TestSocket(connectingTo: ringd.endpoint)
                stalled.append(socket)
                sent.append(try socket.sendUntilStalled(payload))
            }

            let others = try (0..<4).map { _ in
                EchoConversation(socket: try TestSocket(connectingTo: ringd.endpoint), payload: linePayload(byteCount: 64 * 1024, random: &random))
            }
            EchoExchange.run(others, idleTimeout: .seconds(10))
            let otherProblems = EchoExchange.problems(of: others)
            #expect(
                otherProblems.isEmpty,
                """
                with \(Self.stalledClientCount) stalled clients (bytes each got in: \(sent)), new clients: \
                \(otherProblems.joined(separator: "\n"))
                """)
            others.forEach { $0.socket.close() }

            stalled.forEach { $0.close() }
            let problems = try Aftermath.problems(of: ringd, bystanders: bystanders, baseline: baseline, random: &random)
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        }

        @Test("2,000 clients reset mid-stream (SO_LINGER 0), in waves of 100, beside 4 steady echo connections that stay exact")
        func resetsInWaves() throws {
            let ringd = try RunningRingd(extraArguments: ["--workers", "2"])
            defer { ringd.stop() }
            let baseline = try ProcessDescriptors.count(of: ringd.pid)
            let seed = testSeed(default: 404)
            var random = SeededRandom(seed: seed)
            let steady = try Aftermath.openBystanders(4, to: ringd.endpoint, random: &random)

            let endpoint = ringd.endpoint
            let wavesSeed = random.next()
            let pid = ringd.pid
            let resets = BackgroundWork<(count: Int, unanswered: [String])> {
                var random = SeededRandom(seed: wavesSeed)
                let chunk = random.bytes(count: 64 * 1024)
                var count = 0
                var unanswered: [String] = []
                // Three unanswered clients are enough to show a fault; each costs 5 s.
                for wave in 0..<20 where unanswered.count < 3 {
                    let sockets = try (0..<100).map { _ in try TestSocket(connectingTo: endpoint) }
                    for (index, socket) in sockets.enumerated() where unanswered.count < 3 {
                        // Up to 64 KiB without reading, so data is in flight both ways; every
                        // other client also waits for the first echoed bytes. (The echo of 64 KiB
                        // fits in the client's receive buffer: ringd is left holding little.)
                        let size = random.logUniform(in: 1...chunk.count)
                        _ = try socket.sendUntilFull(Array(chunk[..<size]))
                        if index.isMultiple(of: 2), try !socket.wait(for: Int16(POLLIN), timeout: .seconds(5)) {
                            let peer = try socket.localEndpoint
                            unanswered.append(
                                "wave \(wave), client \(index) (connection \(count + index + 1) of the waves) sent \(size) bytes and got "
                                    + "no echo and no close for 5 s; ringd's end is "
                                    + "\(TCPConnectionStates.serverSide(of: peer, server: endpoint) ?? "gone"), ringd holds "
                                    + "\((try? ProcessDescriptors.count(of: pid)) ?? -1) descriptors")
                        }
                    }
                    for socket in sockets { try socket.closeWithReset() }
                    count += sockets.count
                }
                return (count, unanswered)
            }
            var steadyProblems: [String] = []
            var rounds = 0
            while !resets.isFinished || rounds < 2 {
                let conversations = steady.map {
                    EchoConversation(
                        socket: $0, payload: linePayload(byteCount: 256 * 1024, random: &random),
                        plan: .random(SeededRandom(seed: random.next()), range: 1...(16 * 1024)))
                }
                EchoExchange.run(conversations)
                steadyProblems += EchoExchange.problems(of: conversations).map { "round \(rounds): \($0)" }
                rounds += 1
                if !steadyProblems.isEmpty || rounds >= 500 { break }
            }
            let waves = try resets.join()
            #expect(waves.unanswered.isEmpty, "\(waves.unanswered.joined(separator: "\n"))\n\(ringd.child.standardError)")
            #expect(waves.count == 2_000, "the waves stopped after \(waves.count) clients")
            #expect(steadyProblems.isEmpty, "seed \(seed): \(steadyProblems.prefix(4).joined(separator: "\n"))")

            let problems = try Aftermath.problems(of: ringd, bystanders: steady, baseline: baseline, random: &random)
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        }

        @Test("a storm of 5,000 short connections beside a steady echo connection that stays exact")
        func connectStorm() throws {
            let ringd = try RunningRingd(extraArguments: ["--workers", "2"])
            defer { ringd.stop() }
            let baseline = try ProcessDescriptors.count(of: ringd.pid)
            var random = SeededRandom(seed: testSeed(default: 405))
            let steady = try Aftermath.openBystanders(1, to: ringd.endpoint, random: &random)

            let endpoint = ringd.endpoint
            let storm = BackgroundWork<(connections: Int, echoed: Int)> {
                var echoed = 0
                let ping = Array("ping\n".utf8)
                for index in 0..<5_000 {
                    let socket = try TestSocket(connectingTo: endpoint)
                    // Every tenth one says something first and waits for the answer; the others
                    // connect and leave at once.
                    if index.isMultiple(of: 10) {
                        try socket.sendAll(ping)
                        let connection = LineConnection(socket: socket)
                        if try connection.readLine(within: .seconds(10)) == ping { echoed += 1 }
                    }
                    socket.close()
                }
                return (5_000, echoed)
            }
            var steadyProblems: [String] = []
            var rounds = 0
            while !storm.isFinished || rounds < 2 {
                let conversation = EchoConversation(
                    socket: steady[0], payload: linePayload(byteCount: 128 * 1024, random: &random),
                    plan: .random(SeededRandom(seed: random.next()), range: 1...(16 * 1024)))
                EchoExchange.run([conversation])
                if let problem = conversation.problem { steadyProblems.append("round \(rounds): \(problem)") }
                rounds += 1
                if !steadyProblems.isEmpty || rounds >= 2_000 { break }
            }
            let result = try storm.join()
            #expect(result.connections == 5_000)
            #expect(result.echoed == 500, "\(result.echoed) of the 500 clients that spoke were answered")
            #expect(steadyProblems.isEmpty, "\(steadyProblems.prefix(4).joined(separator: "\n"))")

            let problems = try Aftermath.problems(of: ringd, bystanders: steady, baseline: baseline, random: &random)
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        }

        @Test(
            "the smallest buffer ring (io.buffer_count=1, io.buffer_size=512B) under 50 concurrent echo clients: every byte exact",
            arguments: [false, true])
        func smallestBufferRing(lineMode: Bool) throws {
            let ringd = try RunningRingd(extraArguments: [
                "--workers", "2", "--set", "io.buffer_count=1", "--set", "io.buffer_size=512B", "--set", "io.output_limit=512B",
            ] + (lineMode ? ["--set", "echo.lines=true"] : []))
            defer { ringd.stop() }
            let baseline = try ProcessDescriptors.count(of: ringd.pid)
            let seed = testSeed(default: 406)
            var random = SeededRandom(seed: seed)

            let conversations = try (0..<50).map { _ in
                EchoConversation(
                    socket: try TestSocket(connectingTo: ringd.endpoint), payload: linePayload(byteCount: 64 * 1024, random: &random),
                    plan: .random(SeededRandom(seed: random.next()), range: 1...(16 * 1024)))
            }
            EchoExchange.run(conversations)
            let failures = EchoExchange.problems(of: conversations)
            #expect(failures.isEmpty, "seed \(seed): \(failures.count) of 50 failed: \(failures.prefix(3).joined(separator: "\n"))\n\(ringd.child.standardError)")

            conversations.forEach { $0.socket.close() }
            let problems = try Aftermath.problems(of: ringd, bystanders: [], baseline: baseline, random: &random)
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        }
    }
}
