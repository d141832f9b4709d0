// The relay's commands on a worker's Redis connection (RelayCluster.swift in RingdServices says
// what they are for): PUBLISH of a line on PREFIX:relay, and small Lua scripts for names, so
// that each check and its write happen at once in Redis, whoever else runs them meanwhile.
//
//   PREFIX:name:NAME   "NODE CLIENT", who holds NAME, with an expiry (`nameLifetimeMilliseconds`)
//                      its holder refreshes (`nameRefreshMilliseconds`); a dead host's names expire.
//   PREFIX:online      a sorted set of every name held, scored by when it expires, for /who.
//
// A claim sets the key unless a client of another node holds it. One of this node's own values
// may be overwritten: this process's directory already says no client of it holds the name, so
// such a value is a client that left and whose release has not run yet (releases and claims
// from different workers travel on different connections). A release deletes the key only if it
// still holds the releasing client's own value, so it never frees another client's name.
//
// Each connection loads the scripts first (SCRIPT LOAD, pipelined behind HELLO) and calls them
// by their SHA1 once Redis has answered with it: a refresh of many names sends a few dozen bytes
// per name, not the script's text. Before the answer, and for a Redis that lost them (a NOSCRIPT
// error resets the connection, which loads them again), the text goes with the call (EVAL).

import RingdCluster
import RingdConfig
import RingdServices

#if canImport(Glibc)
    import Glibc
#endif

/// The keys, channel and node the relay's commands name, as bytes made once.
final class RelayKeys {
    /// How long a name stays held in Redis without a refresh: how long a dead host's names last.
    static let nameLifetimeMilliseconds: Int64 = 15_000
    /// How often the holder refreshes its names: a third of their lifetime.
    static let nameRefreshMilliseconds: UInt32 = 5_000
    /// The most names one /who reply carries (its line holds 512 bytes).
    static let namesListed = 128

    let namePrefix: UnsafeMutableRawBufferPointer
    let onlineKey: UnsafeMutableRawBufferPointer
    let node: UnsafeMutableRawBufferPointer
    /// Each script's SHA1 in hexadecimal, as this connection's Redis gave it, and which are known
    /// (a bit per script, by its index in `scripts`).
    private let shas = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 * 40, alignment: 1)
    var loaded: UInt8 = 0

    init(prefix: String, node: String) {
        namePrefix = RedisLink.bytes(prefix + ":name:")
        onlineKey = RedisLink.bytes(prefix + ":online")
        self.node = RedisLink.bytes(node)
    }

    deinit {
        namePrefix.deallocate()
        onlineKey.deallocate()
        node.deallocate()
        shas.deallocate()
    }

    /// The scripts below, by index: claim, release, private, list.
    static let scripts: [StaticString] = [claimScript, releaseScript, privateScript, listScript]

    /// Records script `index`'s SHA1; false if `sha` is not one.
    func record(sha: UnsafeRawBufferPointer, of index: Int) -> Bool {
        guard Self.scripts.indices.contains(index), sha.count == 40 else { return false }
        UnsafeMutableRawBufferPointer(rebasing: shas[(index * 40)..<(index * 40 + 40)]).copyMemory(from: sha)
        loaded |= 1 << index
        return true
    }

    /// `EVALSHA sha` once Redis gave script `index`'s SHA1, `EVAL text` until then.
    func call(_ index: Int) -> RESPCommand {
        guard loaded & (1 << index) != 0 else {
            var command = RESPCommand("EVAL")
            command.append(.text(Self.scripts[index]))
            return command
        }
        var command = RESPCommand("EVALSHA")
        command.append(.bytes(UnsafeRawBufferPointer(rebasing: shas[(index * 40)..<(index * 40 + 40)])))
        return command
    }

    /// KEYS: the name's key, the online set. ARGV: node, client number, lifetime, name.
    static let claimScript: StaticString = """
        local mine = ARGV[1] .. ' ' .. ARGV[2]
        local held = redis.call('GET', KEYS[1])
        if held and held ~= mine and string.sub(held, 1, #ARGV[1] + 1) ~= ARGV[1] .. ' ' then return 0 end
        redis.call('SET', KEYS[1], mine, 'PX', ARGV[3])
        local now = redis.call('TIME')
        redis.call('ZADD', KEYS[2], now[1] * 1000 + math.floor(now[2] / 1000) + tonumber(ARGV[3]), ARGV[4])
        return 1
        """
    /// KEYS: the name's key, the online set. ARGV: node, client number, name.
    static let releaseScript: StaticString = """
        if redis.call('GET', KEYS[1]) == ARGV[1] .. ' ' .. ARGV[2] then
          redis.call('DEL', KEYS[1])
          redis.call('ZREM', KEYS[2], ARGV[3])
          return 1
        end
        return 0
        """
    /// KEYS: the target's key, the relay channel. ARGV: the message.
    static let privateScript: StaticString = """
        if redis.call('EXISTS', KEYS[1]) == 1 then
          redis.call('PUBLISH', KEYS[2], ARGV[1])
          return 1
        end
        return 0
        """
    /// KEYS: the online set. ARGV: how many names to list. Returns the total, then the names.
    static let listScript: StaticString = """
        local now = redis.call('TIME')
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now[1] * 1000 + math.floor(now[2] / 1000))
        local names = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
        table.insert(names, 1, redis.call('ZCARD', KEYS[1]))
        return names
        """
}

/// The names of a /who reply, gathered as its elements are decoded: fixed room, each name
/// followed by a space; names past the room are left out (the total still counts them).
final class NameList {
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: RelayFormat.whoLineLimit, alignment: 1)
    private(set) var count = 0

    deinit { storage.deallocate() }

    func reset() { count = 0 }

    func append(_ name: UnsafeRawBufferPointer) {
        guard count + name.count + 1 <= storage.count else { return }
        UnsafeMutableRawBufferPointer(rebasing: storage[count...]).copyMemory(from: name)
        storage[count + name.count] = UInt8(ascii: " ")
        count += name.count + 1
    }

    var listed: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[0..<count]) }
}

extension RedisLink {
    /// PUBLISH `bytes` on the service's channel; false when there is no room (counted by the
    /// caller).
    func publish(_ bytes: UnsafeRawBufferPointer, now: UInt32) -> Bool {
        guard let channel else { return false }
        var publish = RESPCommand("PUBLISH")
        publish.append(.bytes(UnsafeRawBufferPointer(channel)))
        publish.append(.bytes(bytes))
        return write(publish, expecting: PendingReply(kind: .publish, since: now))
    }

    /// SCRIPT LOAD of every relay script, on a new connection.
    func loadScripts(now: UInt32) {
        guard relay != nil else { return }
        for (index, script) in RelayKeys.scripts.enumerated() {
            var load = RESPCommand("SCRIPT")
            load.append("LOAD")
            load.append(.text(script))
            _ = write(load, expecting: PendingReply(kind: .loadScript, since: now, descriptor: Int32(index)))
        }
    }

    func ping(now: UInt32) -> Bool {
        write(RESPCommand("PING"), expecting: PendingReply(kind: .ping, since: now))
    }

    /// The claim script for `claim`; `kind` says what its answer means.
    func claimName(_ claim: ClusterClaim, kind: PendingReply.Kind, now: UInt32) -> Bool {
        callNameScript(0, for: claim, withLifetime: true, expecting: PendingReply(kind: kind, since: now, claim: claim))
    }

    func releaseName(_ claim: ClusterClaim, now: UInt32) -> Bool {
        callNameScript(1, for: claim, withLifetime: false, expecting: PendingReply(kind: .releaseName, since: now, claim: claim))
    }

    /// Script `script` (claim or release) on `claim`'s name key and the online set, with this
    /// node and the client's number as the value it compares, and the name itself last.
    private func callNameScript(_ script: Int, for claim: ClusterClaim, withLifetime: Bool, expecting reply: PendingReply) -> Bool
    {
        guard let relay else { return false }
        return claim.name.withBytes { name in
            withClientNumber(claim.client) { number in
                var command = relay.call(script)
                command.append("2")
                command.append(.joined(UnsafeRawBufferPointer(relay.namePrefix), name))
                command.append(.bytes(UnsafeRawBufferPointer(relay.onlineKey)))
                command.append(.bytes(UnsafeRawBufferPointer(relay.node)))
                command.append(.bytes(number))
                if withLifetime { command.append(.integer(RelayKeys.nameLifetimeMilliseconds)) }
                command.append(.bytes(name))
                return write(command, expecting: reply)
            }
        }
    }

    /// Publishes `bytes` if some host holds `target`.
    func sendPrivate(_ bytes: UnsafeRawBufferPointer, from sender: ClusterClaim, to target: RelayName, now: UInt32) -> Bool {
        guard let relay, let channel else { return false }
        return target.withBytes { name in
            var command = relay.call(2)
            command.append("2")
            command.append(.joined(UnsafeRawBufferPointer(relay.namePrefix), name))
            command.append(.bytes(UnsafeRawBufferPointer(channel)))
            command.append(.bytes(bytes))
            return write(command, expecting: PendingReply(kind: .sendPrivate, since: now, claim: sender, target: target))
        }
    }

    func listNames(for asker: ClusterClaim, now: UInt32) -> Bool {
        guard let relay else { return false }
        var command = relay.call(3)
        command.append("1")
        command.append(.bytes(UnsafeRawBufferPointer(relay.onlineKey)))
        command.append(.integer(Int64(RelayKeys.namesListed)))
        return write(command, expecting: PendingReply(kind: .listNames, since: now, claim: asker))
    }

    /// The client's number in decimal, in scratch memory, for a script's argument.
    private func withClientNumber<Result>(_ number: UInt64, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        withUnsafeTemporaryAllocation(byteCount: 20, alignment: 1) { scratch in
            var writer = ByteWriter(scratch)
            writer.write(decimal: number)
            return body(writer.written)
        }
    }
}
