// The RESP codec against a real redis-server (RunningRedis, on a free loopback port): commands
// RESPCommand writes are the commands Redis runs, and every reply Redis sends, RESP2 and RESP3,
// pipelined or split across reads, RESPDecoder reads as what Redis meant. These are the commands
// ringd's cluster mode is built on: PING, INCR, SET NX PX, PUBLISH and SUBSCRIBE.

import RingdCluster
import TestSupport
import Testing

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("RESP against redis-server", .serialized)
struct RESPAgainstRedisTests {
    @Test func pingAndAnUnknownCommand() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        let connection = try RedisConnection(to: redis.endpoint)
        #expect(try connection.command("PING") == .simple("PONG"))
        #expect(try connection.command("PING", "hello\r\nthere") == .bulk("hello\r\nthere"))
        guard case .error(let message) = try connection.command("NO-SUCH-COMMAND", "x") else {
            Issue.record("no error reply")
            return
        }
        #expect(String(decoding: message, as: UTF8.self).hasPrefix("ERR unknown command 'NO-SUCH-COMMAND'"))
        #expect(try connection.command("PING") == .simple("PONG"), "the connection goes on after an error reply")
    }

    @Test func incrCountsExactlyAcrossConnections() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        let connections = try (0..<3).map { _ in try RedisConnection(to: redis.endpoint) }
        var seen: [Int64] = []
        for round in 0..<30 {
            guard case .integer(let value) = try connections[round % 3].command("INCR", "ringd:counter") else {
                Issue.record("INCR did not answer an integer")
                return
            }
            seen.append(value)
        }
        #expect(seen == Array(1...30))
        #expect(try connections[0].command("GET", "ringd:counter") == .bulk("30"))
        guard case .error = try connections[0].command("INCR", "ringd:counter", "extra") else {
            Issue.record("INCR with two arguments is not an error")
            return
        }
    }

    @Test func setNXWithExpiryClaimsOnceAndExpires() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        let first = try RedisConnection(to: redis.endpoint)
        let second = try RedisConnection(to: redis.endpoint)
        #expect(try first.command("SET", "ringd:name:alice", "host-1", "NX", "PX", "60000") == .simple("OK"))
        #expect(try second.command("SET", "ringd:name:alice", "host-2", "NX", "PX", "60000") == .bulkString(nil))
        #expect(try second.command("GET", "ringd:name:alice") == .bulk("host-1"))
        guard case .integer(let remaining) = try second.command("PTTL", "ringd:name:alice") else {
            Issue.record("PTTL did not answer an integer")
            return
        }
        #expect((1...60_000).contains(remaining))
        #expect(try first.command("DEL", "ringd:name:alice") == .integer(1))
        #expect(try second.command("SET", "ringd:name:alice", "host-2", "NX", "PX", "60000") == .simple("OK"))

        // A claim its holder stops refreshing frees itself: the name is claimable again once
        // Redis has expired it (waited for, up to 10 s; the time it takes is not the point).
        #expect(try first.command("SET", "ringd:name:bob", "host-1", "NX", "PX", "20") == .simple("OK"))
        let deadline = Deadline(after: .seconds(10))
        var reclaimed = RESPValue.bulkString(nil)
        while reclaimed != .simple("OK") && !deadline.hasPassed {
            reclaimed = try second.command("SET", "ringd:name:bob", "host-2", "NX", "PX", "60000")
        }
        #expect(reclaimed == .simple("OK"))
        #expect(try first.command("GET", "ringd:name:bob") == .bulk("host-2"))
    }

    @Test func aPublishedMessageReachesEverySubscriberWithItsBytes() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        let subscribers = try (0..<2).map { _ in try RedisConnection(to: redis.endpoint) }
        for subscriber in subscribers {
            let reply = try subscriber.command("SUBSCRIBE", "ringd:relay", "ringd:broadcast")
            #expect(reply == .array([.bulk("subscribe"), .bulk("ringd:relay"), .integer(1)]))
            #expect(try subscriber.nextValue() == .array([.bulk("subscribe"), .bulk("ringd:broadcast"), .integer(2)]))
        }
        let publisher = try RedisConnection(to: redis.endpoint)
        let payload: [UInt8] = bytes("deploy finished\r\n") + [0, 255, 13] + bytes("*1\r\n$-1\r\n")
        try publisher.send(bytes: [bytes("PUBLISH"), bytes("ringd:broadcast"), payload])
        #expect(try publisher.nextValue() == .integer(2), "both subscribers had it")
        #expect(try publisher.command("PUBLISH", "ringd:nobody", "x") == .integer(0))
        for subscriber in subscribers {
            #expect(try subscriber.nextValue() == .array([.bulk("message"), .bulk("ringd:broadcast"), .bulkString(payload)]))
        }
    }

    @Test func aThousandPipelinedCommandsAnswerInOrder() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        let connection = try RedisConnection(to: redis.endpoint)
        // One write of 1,000 commands: the replies come in as many reads as the kernel makes of
        // them, and split wherever they split.
        try connection.send((0..<1000).map { index in index % 2 == 0 ? ["INCR", "n"] : ["ECHO", "reply \(index)"] })
        var problems: [String] = []
        for index in 0..<1000 {
            let value = try connection.nextValue()
            let expected: RESPValue = index % 2 == 0 ? .integer(Int64(index / 2 + 1)) : .bulk("reply \(index)")
            if value != expected { problems.append("reply \(index): \(value), not \(expected)") }
        }
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(connection.end == .complete)
    }

    @Test func aLargeValueComesBackWholeAcrossReads() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        let connection = try RedisConnection(to: redis.endpoint)
        var random = SeededRandom(seed: testSeed(default: 14))
        let value = random.bytes(count: 700_000)
        try connection.send(bytes: [bytes("SET"), bytes("big"), value])
        #expect(try connection.nextValue() == .simple("OK"))
        #expect(try connection.command("GET", "big") == .bulkString(value))
        #expect(connection.receivedCount > 700_000)
    }

    @Test func aReplyPastTheDecodersBoundIsANamedError() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        let writer = try RedisConnection(to: redis.endpoint)
        #expect(try writer.command("SET", "long", String(repeating: "l", count: 2000)) == .simple("OK"))
        let limits = RESPLimits(maximumBulkLength: 1024, maximumAggregateCount: 16, maximumDepth: 2, maximumLineLength: 64)
        let reader = try RedisConnection(to: redis.endpoint, limits: limits)
        #expect(try reader.command("GET", "short-or-missing") == .bulkString(nil))
        #expect(throws: HarnessFailure.self) { try reader.command("GET", "long") }
        // "$-1\r\n" was 5 bytes; the refused header starts right after.
        #expect(reader.end == .failed(RESPProtocolError(.bulkTooLong(2000), at: 5)))
    }

    @Test func resp3RepliesAndPushMessagesOnOneConnection() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        let connection = try RedisConnection(to: redis.endpoint)
        guard case .map(let hello) = try connection.command("HELLO", "3") else {
            Issue.record("HELLO 3 did not answer a map")
            return
        }
        let fields = stride(from: 0, to: hello.count, by: 2).map { (hello[$0], hello[$0 + 1]) }
        #expect(fields.contains { $0 == (.bulk("proto"), .integer(3)) }, "\(hello)")
        #expect(try connection.command("GET", "missing") == .null)
        #expect(try connection.command("SADD", "s", "a") == .integer(1))
        #expect(try connection.command("SMEMBERS", "s") == .set([.bulk("a")]))
        #expect(try connection.command("HSET", "h", "k", "v") == .integer(1))
        #expect(try connection.command("HGETALL", "h") == .map([.bulk("k"), .bulk("v")]))
        #expect(try connection.command("EXISTS", "h") == .integer(1))

        // In RESP3 a subscribed connection still takes commands; messages come as push frames.
        #expect(
            try connection.command("SUBSCRIBE", "ringd:relay") == .push([.bulk("subscribe"), .bulk("ringd:relay"), .integer(1)]))
        let publisher = try RedisConnection(to: redis.endpoint)
        #expect(try publisher.command("PUBLISH", "ringd:relay", "hello over RESP3") == .integer(1))
        #expect(try connection.nextValue() == .push([.bulk("message"), .bulk("ringd:relay"), .bulk("hello over RESP3")]))
        #expect(try connection.command("PING") == .simple("PONG"))
    }

    @Test func aKilledRedisComesBackEmptyOnTheSamePort() throws {
        let redis = try RunningRedis()
        defer { redis.stop() }
        let before = try RedisConnection(to: redis.endpoint)
        #expect(try before.command("SET", "k", "v") == .simple("OK"))
        redis.kill()
        #expect(throws: HarnessFailure.self) { try before.command("PING") }
        try redis.restart()
        let after = try RedisConnection(to: redis.endpoint)
        #expect(try after.command("GET", "k") == .bulkString(nil))
    }
}
