// relay mode across hosts: several ringd processes meet in a real redis-server, and a chat line,
// a join, leave or rename notice reaches every client on every host, in the order its sender
// sent it, never back to the sender; names are unique across hosts; /msg and /who span them.
// When Redis dies, each host's clients go on talking among themselves, the lines that could
// not leave a host are counted, and after Redis is back a name another host took meanwhile
// renames its old holder to its default name, client<N>@<node>.
import Foundation
import Glibc
import TestSupport
import Testing

@Suite("relay across hosts through Redis", .serialized)
struct ClusterRelayTests {
    /// A relay host named `node`, with `workers` workers; returns once each is connected to Redis.
    static func host(_ node: String, redis: RunningRedis, workers: Int = 1) throws -> RunningRingd {
        let ringd = try RunningRingd(extraArguments: [
            "--mode", "relay", "--workers", String(workers), "--set", "cluster.redis=\(redis.address)",
            "--set", "cluster.node=\(node)",
        ])
        try ringd.waitForLog(containing: "connected to Redis", count: workers)
        return ringd
    }

    /// A chat client and the name the others know it by.
    final class Chatter {
        let connection: LineConnection
        var name: String
        /// Join notices of clients that connected before this one, which may still be on their
        /// way from another host (or worker) when it connects; each is skipped once.
        var lateLinesAllowed: [String: Int] = [:]

        init(_ connection: LineConnection, name: String) {
            self.connection = connection
            self.name = name
        }

        /// The next line that is not an allowed late one.
        func line() throws -> String {
            while true {
                let line = try connection.readLineText(within: .seconds(10))
                if !isLate(line) { return line }
            }
        }

        func isLate(_ line: String) -> Bool {
            guard let count = lateLinesAllowed[line], count > 0 else { return false }
            lateLinesAllowed[line] = count - 1
            return true
        }
    }

    /// Connects to `host`: the newcomer is welcomed as `client<N>@<node>` and every earlier client,
    /// on any host, is told it joined before this returns.
    static func join(_ host: RunningRingd, node: String, among others: [Chatter]) throws -> Chatter {
        let connection = try LineConnection(connectingTo: host.endpoint)
        let welcome = try connection.readLineText(within: .seconds(10))
        guard welcome.hasPrefix("* you are client"), welcome.hasSuffix("@\(node)\n") else {
            throw HarnessFailure("welcome on \(node): \(welcome.debugDescription)")
        }
        let newcomer = Chatter(connection, name: String(welcome.dropFirst("* you are ".count).dropLast()))
        for earlier in others { newcomer.lateLinesAllowed["* \(earlier.name) joined\n", default: 0] += 1 }
        try expectEveryone(others, get: "* \(newcomer.name) joined\n")
        return newcomer
    }

    /// Each of `clients`' next line is `line`.
    static func expectEveryone(_ clients: [Chatter], get line: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for client in clients {
            let got = try client.line()
            #expect(got == line, "at \(client.name)", sourceLocation: sourceLocation)
        }
    }

    @Test("three hosts: lines in order per sender to every other client, notices, unique names, /msg and /who")
    func chatAcrossThreeHosts() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        let (hostA, hostB, hostC) = (try Self.host("A", redis: redis, workers: 2), try Self.host("B", redis: redis), try Self.host("C", redis: redis))
        defer { [hostA, hostB, hostC].forEach { $0.stop() } }
        var everyone: [Chatter] = []
        for (host, node) in [(hostA, "A"), (hostB, "B"), (hostC, "C"), (hostA, "A")] {
            everyone.append(try Self.join(host, node: node, among: everyone))
        }
        let (a1, b1, c1, a2) = (everyone[0], everyone[1], everyone[2], everyone[3])

        // Two senders on two hosts, 100 lines each at once; every other client gets each
        // sender's lines exactly once, in order, and no sender its own.
        let senders = [a1, b1]
        for index in 0..<100 { for sender in senders { try sender.connection.queue("line \(index) of \(sender.name)\n") } }
        var received: [ObjectIdentifier: [String]] = [:]
        let expected: (Chatter) -> Int = { client in 100 * senders.filter { $0 !== client }.count }
        let done = try LineConnection.pump(everyone.map(\.connection), within: .seconds(30)) {
            for client in everyone {
                while let bytes = client.connection.nextLine() {
                    let line = String(decoding: bytes, as: UTF8.self)
                    if !client.isLate(line) { received[ObjectIdentifier(client), default: []].append(line) }
                }
            }
            return everyone.allSatisfy { received[ObjectIdentifier($0), default: []].count >= expected($0) }
        }
        #expect(done, "lines received: \(everyone.map { received[ObjectIdentifier($0), default: []].count })")
        for client in everyone {
            let lines = received[ObjectIdentifier(client), default: []]
            for sender in senders {
                let fromSender = lines.filter { $0.hasPrefix("\(sender.name): ") }
                let wanted = sender === client ? [] : (0..<100).map { "\(sender.name): line \($0) of \(sender.name)\n" }
                #expect(fromSender == wanted, "\(client.name) got \(fromSender.count) lines of \(sender.name), in order: \(fromSender == wanted)")
            }
            #expect(lines.count == expected(client), "\(client.name) got other lines: \(lines.filter { !$0.contains(" of ") }.prefix(3))")
        }

        // A chosen name is announced on every host and nobody else's, here or there.
        try b1.connection.send("/nick bob\n")
        try Self.expectEveryone(everyone, get: "* \(b1.name) is now bob\n")
        b1.name = "bob"
        for taker in [c1, a2] {
            try taker.connection.send("/nick bob\n")
            #expect(try taker.line() == "error: the name bob is taken\n")
        }
        // /msg reaches its target on another host alone, by chosen or default name.
        try a1.connection.send("/msg bob  across hosts\n")
        #expect(try b1.line() == "\(a1.name) (private): across hosts\n")
        try b1.connection.send("/msg \(c1.name) back\n")
        #expect(try c1.line() == "bob (private): back\n")
        // Host A has two workers: whichever holds the target sends it, the other stays quiet.
        for target in [a1, a2] {
            try c1.connection.send("/msg \(target.name) to \(target.name)\n")
            #expect(try target.line() == "\(c1.name) (private): to \(target.name)\n")
        }
        try a1.connection.send("/msg nobody hello?\n")
        #expect(try a1.line() == "error: no such client nobody\n")
        try c1.connection.send("/who\n")
        let who = try c1.line()
        #expect(Set(who.dropFirst("* online: ".count).dropLast().split(separator: " ").map(String.init)) == Set(everyone.map(\.name)), "\(who)")
        // None of that reached anyone else: each one's next line is this one.
        try a2.connection.send("after the private lines\n")
        try Self.expectEveryone(everyone.filter { $0 !== a2 }, get: "\(a2.name): after the private lines\n")

        // Its holder leaves: the name is free on every host.
        try b1.connection.send("/quit\n")
        let stayers = everyone.filter { $0 !== b1 }
        try Self.expectEveryone(stayers, get: "* bob left\n")
        try c1.connection.send("/nick bob\n")
        try Self.expectEveryone(stayers, get: "* \(c1.name) is now bob\n")
    }

    @Test("Redis killed: each host's clients still talk, lost lines are counted; after the restart a name taken meanwhile renames its holder")
    func redisLostAndBack() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        let hostA = try Self.host("A", redis: redis, workers: 2)
        defer { hostA.stop() }
        let hostB = try Self.host("B", redis: redis)
        defer { hostB.stop() }
        let a1 = try Self.join(hostA, node: "A", among: [])
        let b1 = try Self.join(hostB, node: "B", among: [a1])
        let a2 = try Self.join(hostA, node: "A", among: [a1, b1])
        try b1.connection.send("/nick bob\n")
        try Self.expectEveryone([a1, b1, a2], get: "* \(b1.name) is now bob\n")
        let bobDefault = b1.name

        redis.kill()
        try hostA.waitForLog(containing: "is unavailable", count: 2)
        try hostB.waitForLog(containing: "is unavailable")
        try a1.connection.send("while Redis is down\n")
        #expect(try a2.line() == "\(a1.name): while Redis is down\n")
        try a2.connection.send("/nick bob\n")
        #expect(try a2.line() == "error: the other hosts cannot be reached now; try again later\n")
        try hostA.waitForLog(containing: "1 line could not be published to the other hosts")

        // Host B sleeps through the restart; host A comes back first and a2 takes bob.
        hostB.child.send(signal: SIGSTOP)
        try redis.restart()
        try hostA.waitForLog(containing: "connected to Redis", count: 4)
        try a2.connection.send("/nick bob\n")
        try Self.expectEveryone([a1, a2], get: "* \(a2.name) is now bob\n")
        hostB.child.send(signal: SIGCONT)
        try hostB.waitForLog(containing: "connected to Redis", count: 2)
        // B claims bob again, finds it taken, and its holder is its default name again.
        try Self.expectEveryone([a1, a2, b1], get: "* bob is now \(bobDefault)\n")
        b1.name = bobDefault
        a2.name = "bob"

        try b1.connection.send("back across\n")
        try Self.expectEveryone([a1, a2], get: "\(bobDefault): back across\n")
        try a1.connection.send("and back\n")
        try Self.expectEveryone([b1, a2], get: "\(a1.name): and back\n")
        #expect(b1.connection.nextLine() == nil && a1.connection.nextLine() == nil)

        let counters = try hostA.child.terminateAndReadCounters()
        #expect(counters.total("cluster_lines_unpublished") == 1, "\(counters.lines)")
        #expect(counters.total("cluster_requests_failed") == 1, "\(counters.lines)")
        let countersB = try hostB.child.terminateAndReadCounters()
        #expect(countersB.total("cluster_names_lost") == 1, "\(countersB.lines)")
    }

    @Test("a host killed outright leaves its names to expire in Redis: refused at first, then free for a client of another host")
    func aDeadHostsNamesExpire() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        let hostA = try Self.host("A", redis: redis)
        defer { hostA.stop() }
        let hostB = try Self.host("B", redis: redis)
        defer { hostB.stop() }
        let a1 = try Self.join(hostA, node: "A", among: [])
        let b1 = try Self.join(hostB, node: "B", among: [a1])
        try b1.connection.send("/nick carol\n")
        try Self.expectEveryone([a1, b1], get: "* \(b1.name) is now carol\n")

        // No leave, no release: the name stays in Redis with the expiry its holder refreshed.
        hostB.child.send(signal: SIGKILL)
        _ = hostB.child.waitForExit(timeout: .seconds(10))
        let remaining = Int(try redis.command("PTTL", "ringd:name:carol")) ?? -2
        #expect((1...15_000).contains(remaining), "PTTL ringd:name:carol after its host died: \(remaining)")
        try a1.connection.send("/nick carol\n")
        #expect(try a1.line() == "error: the name carol is taken\n")

        // Once the expiry has passed, nobody holds it. (Redis expires the key; ringd asks again.)
        var answer = ""
        for _ in 0..<25 {
            usleep(1_000_000)
            try a1.connection.send("/nick carol\n")
            answer = try a1.line()
            if answer != "error: the name carol is taken\n" { break }
        }
        #expect(answer == "* \(a1.name) is now carol\n")
    }
}
