// Input a careless or hostile client sends: every byte value (NUL, "\r", bytes above 0x7F),
// a message in 1-byte writes, a line longer than `echo.max_line`. Each is echoed exactly or
// refused as documented, and afterwards ringd is unharmed: the bystanders connected throughout
// lost nothing, a new client is served, and ringd's descriptor count is back to its baseline.
import TestSupport
import Testing

extension HardeningTests {
    @Suite("Bad input")
    struct BadInputTests {
        static let rawEcho = ["--workers", "2"]
        static let lineEcho = ["--workers", "2", "--set", "echo.lines=true"]

        @Test("every byte value, NUL included, in 64 KiB: echoed exactly", arguments: [false, true])
        func everyByteValue(lineMode: Bool) throws {
            let ringd = try RunningRingd(extraArguments: lineMode ? Self.lineEcho : Self.rawEcho)
            defer { ringd.stop() }
            let baseline = try ProcessDescriptors.count(of: ringd.pid)
            var random = SeededRandom(seed: testSeed(default: 301))
            let bystanders = try Aftermath.openBystanders(2, to: ringd.endpoint, random: &random)

            // 256 shuffled runs of all 256 byte values; in line mode every "\n" ends a line (none
            // is longer than 510 bytes) and a last "\n" ends the final one.
            var payload: [UInt8] = []
            for _ in 0..<256 {
                var values = (0...255).map(UInt8.init)
                values.shuffle(using: &random)
                payload += values
            }
            if lineMode { payload.append(0x0A) }
            let socket = try TestSocket(connectingTo: ringd.endpoint)
            let problem = EchoExchange.problem(
                echoing: payload, over: socket, plan: .random(SeededRandom(seed: random.next()), range: 1...4096))
            #expect(problem == nil, "\(lineMode ? "line" : "raw") echo: \(problem ?? "")")
            socket.close()

            let problems = try Aftermath.problems(of: ringd, bystanders: bystanders, baseline: baseline, random: &random)
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        }

        @Test("a 64 KiB message in 65,536 one-byte writes: echoed exactly", arguments: [false, true])
        func oneByteWrites(lineMode: Bool) throws {
            let ringd = try RunningRingd(extraArguments: lineMode ? Self.lineEcho : Self.rawEcho)
            defer { ringd.stop() }
            let baseline = try ProcessDescriptors.count(of: ringd.pid)
            var random = SeededRandom(seed: testSeed(default: 302))
            let bystanders = try Aftermath.openBystanders(2, to: ringd.endpoint, random: &random)

            let socket = try TestSocket(connectingTo: ringd.endpoint)
            try socket.disableNagle()
            let payload = linePayload(byteCount: 64 * 1024, random: &random)
            let problem = EchoExchange.problem(echoing: payload, over: socket, plan: .fixed(1))
            #expect(problem == nil, "\(problem ?? "")")
            socket.close()

            let problems = try Aftermath.problems(of: ringd, bystanders: bystanders, baseline: baseline, random: &random)
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        }

        @Test("line mode: 64 KiB with no newline past echo.max_line=4KiB gets the earlier line, the error line, then end of stream")
        func lineLongerThanMaxLine() throws {
            let ringd = try RunningRingd(extraArguments: Self.lineEcho + ["--set", "echo.max_line=4KiB"])
            defer { ringd.stop() }
            let baseline = try ProcessDescriptors.count(of: ringd.pid)
            var random = SeededRandom(seed: testSeed(default: 303))
            let bystanders = try Aftermath.openBystanders(2, to: ringd.endpoint, random: &random)

            let connection = try LineConnection(connectingTo: ringd.endpoint)
            var endless = random.bytes(count: 64 * 1024)
            for index in endless.indices where endless[index] == 0x0A { endless[index] = 0x20 }
            try connection.queue(Array("a fine line\n".utf8) + endless)
            let (bytes, end) = try connection.readToEnd(within: .seconds(20))

            #expect(bytes == Array("a fine line\nerror: line longer than 4096 bytes\n".utf8), "got \(quoted(bytes))")
            #expect(end == .endOfStream, "the connection ended with \(end)")
            connection.socket.close()

            let problems = try Aftermath.problems(of: ringd, bystanders: bystanders, baseline: baseline, random: &random)
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        }
    }
}
