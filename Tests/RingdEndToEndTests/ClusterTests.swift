// Several ringd processes as hosts of one deployment, meeting in a real redis-server
// (`[cluster] redis`): the counter numbers connections across hosts with INCR, broadcast clients
// on every host get what is published on PREFIX:broadcast, and Redis that is killed, restarted
// or not there at start costs what it must and no more: counter clients are told the cluster is
// unavailable (never a local or a repeated number), and everything comes back when Redis does.
import Foundation
import Glibc
import TestSupport
import Testing

@Suite("cluster through Redis", .serialized)
struct ClusterTests {
    static let unavailable = "error: the cluster is unavailable, try again later\n"

    /// A ringd host of the cluster, with 2 workers; returns once both are connected to Redis.
    static func host(_ mode: String, redis: String, _ settings: [String] = [], waitForRedis: Bool = true) throws -> RunningRingd {
        var arguments = ["--mode", mode, "--workers", "2", "--set", "cluster.redis=\(redis)"]
        for setting in settings { arguments += ["--set", setting] }
        let ringd = try RunningRingd(extraArguments: arguments)
        if waitForRedis { try ringd.waitForLog(containing: "connected to Redis", count: 2) }
        return ringd
    }

    /// Opens `count` counter connections spread over `hosts` (all open before any is read) and
    /// returns what each got, as text, in the order they were opened.
    static func counterReplies(_ count: Int, from hosts: [RunningRingd]) throws -> [String] {
        let connections = try (0..<count).map { index in
            try LineConnection(connectingTo: hosts[index % hosts.count].endpoint)
        }
        let ended = try LineConnection.pump(connections, within: .seconds(30)) { connections.allSatisfy(\.hasEnded) }
        #expect(ended, "\(connections.filter { !$0.hasEnded }.count) of \(count) connections still open")
        return connections.map { connection in
            defer { connection.socket.close() }
            return connection.end == .endOfStream ? String(decoding: connection.takeAll(), as: UTF8.self) : "(reset)"
        }
    }

    /// The numbers in `replies`, which must all be `N connections before you\n`.
    static func numbers(in replies: [String]) -> [Int] {
        let numbers = replies.compactMap { CounterModeTests.count(in: Array($0.utf8)) }
        #expect(numbers.count == replies.count, "not all numbered: \(replies.filter { !$0.hasSuffix("before you\n") }.prefix(5))")
        return numbers
    }

    @Test("300 connections over three ringd hosts (2 workers each) get exactly 0..<300; Redis's key says 300")
    func counterIsExactAcrossThreeHosts() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        let hosts = try (0..<3).map { _ in try Self.host("counter", redis: redis.address) }
        defer { hosts.forEach { $0.stop() } }

        var numbers: [Int] = []
        for _ in 0..<3 { numbers += Self.numbers(in: try Self.counterReplies(100, from: hosts)) }
        #expect(
            numbers.sorted() == Array(0..<300),
            "duplicates: \(Dictionary(grouping: numbers) { $0 }.filter { $1.count > 1 }.keys.sorted().prefix(10))")
        #expect(try redis.command("GET", "ringd:counter") == "300")
    }

    @Test(
        "cluster.prefix keys the counter: two deployments share one Redis, each counting from 0; each host's node shows in its metrics and --stats-json"
    )
    func prefixesKeepDeploymentsApart() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        let east = try Self.host(
            "counter", redis: redis.address, ["cluster.prefix=east", "cluster.node=east-1", "metrics.listen=127.0.0.1:0"])
        defer { east.stop() }
        let west = try Self.host("counter", redis: redis.address, ["cluster.prefix=west"])
        defer { west.stop() }

        #expect(Self.numbers(in: try Self.counterReplies(5, from: [east])).sorted() == Array(0..<5))
        #expect(Self.numbers(in: try Self.counterReplies(3, from: [west])).sorted() == Array(0..<3))
        #expect(try redis.command("GET", "east:counter") == "5")
        #expect(try redis.command("GET", "west:counter") == "3")

        let sample = try MetricsSample.scrape(try east.requireMetricsEndpoint())
        let info = sample.values.keys.filter { $0.hasPrefix("ringd_cluster_info{") }
        #expect(info.count == 1, "\(sample.text)")
        #expect(
            sample.total("ringd_cluster_info", #"node="east-1""#, #"prefix="east""#, #"redis="\#(redis.address)""#) == 1,
            "\(sample.text)")
        #expect(try east.child.terminateAndReadCounters().node == "east-1")
        // By default the node is HOSTNAME:PID.
        #expect(try west.child.terminateAndReadCounters().node?.hasSuffix(":\(west.pid)") == true)
    }

    @Test("cluster.redis = \"unix:/path\": the counter over Redis's Unix socket")
    func unixSocket() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ringd-redis-\(getpid()).sock").path
        let redis = try RunningRedis(options: ["--unixsocket", path])
        defer { redis.stop() }
        let ringd = try Self.host("counter", redis: "unix:\(path)")
        defer { ringd.stop() }
        #expect(Self.numbers(in: try Self.counterReplies(4, from: [ringd])).sorted() == Array(0..<4))
        #expect(try redis.command("GET", "ringd:counter") == "4")
    }

    @Test("a PUBLISH on ringd:broadcast reaches every subscriber on two hosts as one line, in order")
    func upstreamPublishReachesEverySubscriber() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        let settings = ["broadcast.interval=1h", #"broadcast.greeting="hello\n""#]
        let hosts = try (0..<2).map { _ in try Self.host("broadcast", redis: redis.address, settings) }
        defer { hosts.forEach { $0.stop() } }
        let subscribers = try (0..<20).map { try LineConnection(connectingTo: hosts[$0 % 2].endpoint) }
        // The greeting says each subscriber is held by a worker before anything is published.
        for subscriber in subscribers { #expect(try subscriber.readLineText(within: .seconds(10)) == "hello\n") }

        // Every worker of both hosts subscribes on its own connection: 4 receivers.
        #expect(try redis.command("PUBLISH", "ringd:broadcast", "deploy finished") == "4")
        for index in 1...20 { try redis.command("PUBLISH", "ringd:broadcast", "message \(index)") }
        try redis.command("PUBLISH", "ringd:broadcast", "two\nlines")
        try redis.command("PUBLISH", "ringd:elsewhere", "not for ringd")
        try redis.command("PUBLISH", "ringd:broadcast", "last")

        let expected = (["deploy finished"] + (1...20).map { "message \($0)" } + ["two lines", "last"]).map { $0 + "\n" }
        for (index, subscriber) in subscribers.enumerated() {
            let lines = try subscriber.readLines(expected.count, within: .seconds(10)).map { String(decoding: $0, as: UTF8.self) }
            #expect(lines == expected, "subscriber \(index)")
        }
    }

    @Test(
        "Redis killed mid-run: counter clients get the unavailable message, then numbers again from the new Redis; broadcast resubscribes"
    )
    func redisKilledAndRestarted() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        let counters = try (0..<2).map { _ in try Self.host("counter", redis: redis.address) }
        defer { counters.forEach { $0.stop() } }
        let broadcast = try Self.host(
            "broadcast", redis: redis.address, ["broadcast.interval=1h", #"broadcast.greeting="hello\n""#])
        defer { broadcast.stop() }
        let subscriber = try LineConnection(connectingTo: broadcast.endpoint)
        #expect(try subscriber.readLineText(within: .seconds(10)) == "hello\n")

        #expect(Self.numbers(in: try Self.counterReplies(10, from: counters)).sorted() == Array(0..<10))
        try redis.command("PUBLISH", "ringd:broadcast", "before")
        #expect(try subscriber.readLineText(within: .seconds(10)) == "before\n")

        redis.kill()
        for host in counters + [broadcast] { try host.waitForLog(containing: "is unavailable", count: 2) }
        let whileDown = try Self.counterReplies(10, from: counters)
        #expect(whileDown == Array(repeating: Self.unavailable, count: 10))

        try redis.restart()
        for host in counters + [broadcast] { try host.waitForLog(containing: "connected to Redis", count: 4) }
        // The new Redis is empty: its count starts again at 0, and no client got a local number.
        #expect(Self.numbers(in: try Self.counterReplies(10, from: counters)).sorted() == Array(0..<10))
        #expect(try redis.command("PUBLISH", "ringd:broadcast", "after") == "2")
        #expect(try subscriber.readLineText(within: .seconds(10)) == "after\n")
        #expect(!subscriber.hasEnded)
    }

    @Test("Redis unreachable at start: ringd serves, logs once per worker while it retries, and counts once Redis comes")
    func redisUnreachableAtStart() throws {
        let port = try RunningRedis.freePort()
        let ringd = try Self.host("counter", redis: "127.0.0.1:\(port)", waitForRedis: false)
        defer { ringd.stop() }
        try ringd.waitForLog(containing: "is unavailable: connect failed: ECONNREFUSED", count: 2)
        #expect(try Self.counterReplies(5, from: [ringd]) == Array(repeating: Self.unavailable, count: 5))
        // Long enough for several attempts (100 ms, then 200, 400 ms apart); none is logged again.
        usleep(800_000)

        let redis = try RunningRedis(port: port)
        defer { redis.stop() }
        try ringd.waitForLog(containing: "connected to Redis", count: 2)
        let log = ringd.child.standardError
        #expect(log.components(separatedBy: "is unavailable").count - 1 == 2, "\(log)")
        let attempts = log.split(separator: "\n").filter { $0.contains("connected to Redis") }.compactMap { line in
            line.split(separator: " ").drop { $0 != "after" }.dropFirst().first.flatMap { Int($0) }
        }
        #expect(attempts.count == 2 && attempts.allSatisfy { $0 >= 2 }, "\(log)")
        #expect(Self.numbers(in: try Self.counterReplies(5, from: [ringd])).sorted() == Array(0..<5))
    }
}
