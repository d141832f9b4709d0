// Listen addresses and workers: one `listening on` line per address (not per worker), every
// address echoes, and with port 0 all workers share the one port ringd printed.
import CLinux
import Glibc
import TestSupport
import Testing

@Suite("Listen addresses and workers")
struct ListenersAndWorkersTests {
    @Test("ringd holds only its own descriptors: stdio, one listener per worker, and per worker a ring and an eventfd, plus the shutdown and two hand-over eventfds")
    func onlyItsOwnDescriptors() throws {
        let ringd = try RunningRingd(extraArguments: ["--workers", "2"])
        defer { ringd.stop() }
        let targets = try ProcessDescriptors.targets(of: ringd.pid)
        let kinds = targets.filter { $0.key > 2 }.values.map { $0.hasPrefix("socket:") ? "socket" : $0 }.sorted()
        #expect(kinds == ["anon_inode:[eventfd]", "anon_inode:[eventfd]", "anon_inode:[eventfd]", "anon_inode:[eventfd]", "anon_inode:[eventfd]",
                          "anon_inode:[io_uring]", "anon_inode:[io_uring]", "socket", "socket"],
                "descriptors 3 and up: \(targets.sorted { $0.key < $1.key })")
    }

    @Test("two --listen addresses and --workers 2: two `listening on` lines, both echo")
    func twoAddressesBothEcho() throws {
        let ringd = try RunningRingd(listen: ["127.0.0.1:0", "127.0.0.2:0"], extraArguments: ["--workers", "2"])
        defer { ringd.stop() }

        #expect(Set(ringd.endpoints.map(\.host)) == ["127.0.0.1", "127.0.0.2"], "\(ringd.listeningLines)")
        var random = SeededRandom(seed: testSeed(default: 7))
        for endpoint in ringd.endpoints {
            let problems = try Self.echoOnSeveralConnections(to: endpoint, random: &random)
            let failedConnections = problems.count
            #expect(failedConnections == 0, "\(endpoint): \(problems.joined(separator: "\n"))\n\(ringd.child.standardError)")
        }
        #expect(try ProcessDescriptors.listeningPorts(of: ringd.pid) == Set(ringd.endpoints.map(\.port)))
        #expect(ringd.listeningLines.count == 2, "one line per address:\n\(ringd.child.standardOutput)")
    }

    @Test("port 0 with --workers 2: one `listening on` line, and every connection lands on that port")
    func portZeroIsSharedByAllWorkers() throws {
        let ringd = try RunningRingd(listen: ["127.0.0.1:0"], extraArguments: ["--workers", "2"])
        defer { ringd.stop() }

        // If each worker bound port 0 on its own, one of them would listen on a port nobody was
        // told about, and the connections it should take would never reach it.
        let listening = try ProcessDescriptors.listeningPorts(of: ringd.pid)
        #expect(listening == [ringd.endpoint.port], "ringd listens on \(listening.sorted()), printed \(ringd.endpoint)")
        var random = SeededRandom(seed: testSeed(default: 77))
        let problems = try Self.echoOnSeveralConnections(to: ringd.endpoint, count: 32, random: &random)
        let failedConnections = problems.count
        #expect(failedConnections == 0, "\(problems.joined(separator: "\n"))\n\(ringd.child.standardError)")
        #expect(ringd.listeningLines.count == 1, "one line per address:\n\(ringd.child.standardOutput)")
    }

    /// Opens `count` connections to `endpoint` at once and echoes 32 KiB on each.
    static func echoOnSeveralConnections(
        to endpoint: Endpoint, count: Int = 16, random: inout SeededRandom
    ) throws -> [String] {
        let conversations = try (0..<count).map { _ in
            EchoConversation(socket: try TestSocket(connectingTo: endpoint), payload: random.bytes(count: 32 * 1024))
        }
        EchoExchange.run(conversations)
        return EchoExchange.problems(of: conversations)
    }

    /// The CPUs this test process may run on, lowest first: ringd, started from it, pins its
    /// worker 0 to the first.
    static let allowedCPUs: [Int] = {
        var mask = [UInt8](repeating: 0, count: 128)
        guard ringd_get_allowed_cpus(&mask, UInt(mask.count)) == 0 else { return [] }
        return (0..<mask.count * 8).filter { mask[$0 / 8] & (1 << ($0 % 8)) != 0 }
    }()

    @Test(
        "server.incoming_cpu: connections made on worker 0's CPU all go to worker 0; without it the reuseport group spreads them",
        .enabled(if: allowedCPUs.count >= 2, "needs two CPUs"), arguments: [true, false])
    func incomingCPU(enabled: Bool) throws {
        let ringd = try RunningRingd(extraArguments: ["--workers", "2", "--set", "server.incoming_cpu=\(enabled)"])
        defer { ringd.stop() }
        // On loopback the kernel handles a connect's handshake on the connecting thread's CPU.
        // Pinned after ringd started, so that ringd does not inherit the pin.
        var saved = [UInt8](repeating: 0, count: 128)
        guard ringd_get_allowed_cpus(&saved, UInt(saved.count)) == 0 else { throw HarnessFailure("sched_getaffinity: \(errnoName(errno))") }
        guard ringd_pin_current_thread(Int32(Self.allowedCPUs[0])) == 0 else { throw HarnessFailure("cannot pin to a CPU") }
        var random = SeededRandom(seed: testSeed(default: 9))
        let problems: [String]
        do {
            defer { _ = ringd_set_allowed_cpus(saved, UInt(saved.count)) }
            problems = try Self.echoOnSeveralConnections(to: ringd.endpoint, count: 40, random: &random)
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        let counters = try ringd.child.terminateAndReadCounters()
        let accepted = (0..<2).map { counters.byWorker[$0]?["accepted"] ?? -1 }
        if enabled {
            #expect(accepted == [40, 0], "accepted per worker: \(accepted)\n\(counters.lines)")
        } else {
            // 40 connections spread by hash: all on one worker has odds of 2 in 2^40.
            #expect(accepted[0] > 0 && accepted[1] > 0 && accepted[0] + accepted[1] == 40, "accepted per worker: \(accepted)")
        }
    }
}
