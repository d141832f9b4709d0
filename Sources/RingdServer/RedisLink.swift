// RedisLink: one worker's connection to the cluster's Redis (`[cluster] redis`), as state and
// fixed buffers. EventLoop+Cluster.swift drives it through the worker's ring.
//
// One connection per worker, not one per process feeding the workers' inboxes: each worker
// connects, sends and reads over its own ring, so a reply is handled on the thread that owns the
// client it answers (the counter's waiting connection), a channel message is fanned out by the
// worker that owns the subscribers, and nothing crosses threads: no lock, no handoff, no second
// wake-up. The price is one Redis connection per worker, and one copy of each channel message
// per worker: a handful per host, which Redis serves without notice.
//
// The connection speaks RESP3 (HELLO 3, Redis 6 or later, Valkey), so channel messages arrive
// as pushes on the same connection that takes commands. Commands are pipelined: written with
// RESPCommand into the half of a two-half output buffer that is filling, while the other half is
// being sent; the whole filling half goes out in one send at the end of a loop iteration.
// Replies are read into one fixed input buffer and decoded in place by RESPDecoder; each reply
// answers the oldest entry of a fixed ring of pending replies. Everything that waits for Redis is
// bounded by these three: a command that finds no room is not sent, and its caller is told so.

import RingdCluster
import RingdConfig
import RingdServices
import RingdSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Where the link is in its life.
enum RedisLinkState {
    /// No connection. The backoff timer runs (or the last operations of a reset connection are
    /// still completing); clients that need Redis are told it is unavailable.
    case down
    /// connect(2) in flight. Commands queue behind HELLO and leave once it connects.
    case connecting
    /// Connected; HELLO sent and its reply not yet read. Commands already flow behind it.
    case greeting
    /// HELLO answered: commands and channel messages flow.
    case ready
}

/// What one pending reply answers.
struct PendingReply {
    enum Kind: UInt8 {
        case hello
        /// INCR PREFIX:counter for the send-and-close connection `descriptor`.
        case incrementCounter
        /// PING on an idle connection, so that a dead Redis is noticed (its reply deadline).
        case ping
        /// PUBLISH of a service's line (relay); the receiver count is not needed.
        case publish
        /// The relay's name scripts (RedisLink+Relay.swift) for `claim`: a /nick, a refresh or
        /// a claim after a reconnect (a refusal means the name is lost), a release.
        case claimName
        case refreshName
        case releaseName
        /// /msg through the cluster, from `claim`'s client to `target`.
        case sendPrivate
        /// /who: an array of the total and some names.
        case listNames
        /// SCRIPT LOAD of the relay's script number `descriptor`: its SHA1, for EVALSHA.
        case loadScript
    }

    var kind: Kind
    /// When the command was queued, on the worker's coarse clock.
    var since: UInt32
    var descriptor: Int32 = -1
    /// The waiting client's address, for a `{peer}` in its message.
    var peer: Peer = .unknown
    /// For the relay's kinds: the name and the client it is for.
    var claim = ClusterClaim(name: .numbered(0), slot: -1, client: 0)
    var target: RelayName? = nil
}

/// The top-level value being decoded, when it spans several elements.
enum ValueInProgress {
    case none
    /// An aggregate reply (HELLO's map): its elements are skipped until it ends.
    case aggregateReply
    /// A push (RESP3 `>`): `index` counts its direct elements; `isMessage` once the first says
    /// "message", `onChannel` once the second names the channel the service hears.
    case push(index: Int, isMessage: Bool, onChannel: Bool)
    /// The reply to /who (`listNames`): `index` counts its elements; the first is the total.
    case names(index: Int, total: Int)
}

final class RedisLink {
    /// Output: two halves of this many bytes; input: one buffer of the largest element's bytes
    /// (RESPLimits.standard's 1 MiB bulk string) and room for its header.
    static let outputHalfSize = 64 << 10
    /// The longest message published (a relay line and its header): what fits one output half
    /// with the command around it, well below the 1 MiB bulk string every receiver accepts.
    static let largestPublished = outputHalfSize - 1024
    static let inputSize = RESPLimits.standard.maximumBulkLength + (64 << 10)
    static let initialBackoff: Duration = .milliseconds(100)
    static let maximumBackoff: Duration = .seconds(5)
    static let connectLimit: Duration = .seconds(2)
    /// A reply that has not come this long after its command was queued resets the connection
    /// (checked by the sweep, at most a second apart): a stalled Redis holds clients no longer.
    static let replyLimitMilliseconds: UInt32 = 2000
    /// A connection that sent nothing for this long sends a PING, so that a Redis that vanished
    /// without a FIN (a lost host) is noticed by the reply deadline even in a quiet mode.
    static let idlePingMilliseconds: UInt32 = 5000

    let addressText: String
    let node: String
    /// The socket address connect(2) reads, in memory that stays put while a connect is in flight.
    let address: UnsafeMutablePointer<sockaddr_storage>
    let addressLength: socklen_t
    let family: Int32

    var state = RedisLinkState.down
    /// The connection's socket, or -1.
    private(set) var socket: Int32 = -1
    /// A reset connection's socket, closed once its last operation completes (they point into
    /// the buffers, which a new connection must not share with them).
    var retiringSocket: Int32 = -1
    /// Bumped for every connection; completions carry it, so one for an older connection is
    /// recognised and only counted down.
    private(set) var generation: UInt32 = 0
    /// Operations in flight on the current or the retiring socket.
    var operationsInFlight = 0
    /// The backoff timer fired: connect as soon as the retiring socket is quiet.
    var retryDue = false
    var backoff = RedisLink.initialBackoff
    /// Connection attempts that failed since the last one that worked, for the log.
    var failedAttempts = 0
    /// The loss was logged; the next HELLO that works logs the recovery.
    var reportedDown = false

    private let output: UnsafeMutableRawBufferPointer
    /// Bytes written into the filling half.
    private(set) var fillCount = 0
    private var fillingHalf = 0
    /// The half being sent: bytes `sendOffset..<sendLength` of it are not yet acknowledged.
    private var sendOffset = 0
    private var sendLength = 0
    private(set) var sendInFlight = false

    let input: UnsafeMutableRawBufferPointer
    var inputCount = 0
    var decoder = RESPDecoder()
    var value = ValueInProgress.none

    /// When a command was last queued, on the worker's coarse clock.
    private(set) var lastCommandAt: UInt32 = 0
    /// When the relay's names were last refreshed, and the slot a refresh that did not fit the
    /// output goes on from (nil when none is under way).
    var lastRefreshAt: UInt32 = 0
    var refreshCursor: Int?
    /// The relay's keys and node, with a relay cluster (RedisLink+Relay.swift).
    let relay: RelayKeys?
    /// The names of a /who reply as they are decoded, each followed by a space.
    let names = NameList()

    private let replies: UnsafeMutablePointer<PendingReply>
    let replyCapacity: Int
    private var replyHead = 0
    private(set) var replyCount = 0

    /// `PREFIX:counter` and `PREFIX:CHANNEL`, and AUTH's arguments.
    private let counterKey: UnsafeMutableRawBufferPointer
    let channel: UnsafeMutableRawBufferPointer?
    private let username: UnsafeMutableRawBufferPointer
    private let password: UnsafeMutableRawBufferPointer?

    /// `waitingCapacity`: the most replies that may be pending (clients waiting for a number).
    init(_ address: RedisAddress, settings: ClusterSettings, channel: ClusterChannel?, waitingCapacity: Int) {
        addressText = address.description
        node = settings.nodeName
        relay = channel == .relay ? RelayKeys(prefix: settings.prefix, node: node) : nil
        self.address = .allocate(capacity: 1)
        self.address.initialize(to: sockaddr_storage())
        switch address {
        case .tcp(let listen):
            let family = listen.family == .ipv6 ? AF_INET6 : AF_INET
            let socketAddress = SocketAddress(numericHost: listen.host, port: listen.port, family: family)!
            self.address.pointee = socketAddress.storage
            addressLength = socketAddress.length
            self.family = family
        case .unix(let path):
            // The configuration checked the path (absolute, at most 107 bytes, no NUL).
            let socketAddress = SocketAddress(unixPath: path)!
            self.address.pointee = socketAddress.storage
            addressLength = socketAddress.length
            family = AF_UNIX
        }
        output = .allocate(byteCount: 2 * Self.outputHalfSize, alignment: 8)
        input = .allocate(byteCount: Self.inputSize, alignment: 8)
        replyCapacity = waitingCapacity + 1
        replies = .allocate(capacity: replyCapacity)
        counterKey = Self.bytes(settings.prefix + ":counter")
        self.channel = channel.map { Self.bytes(settings.prefix + ":" + $0.rawValue) }
        username = Self.bytes(settings.username.isEmpty ? "default" : settings.username)
        password = settings.password.isEmpty ? nil : Self.bytes(settings.password)
    }

    deinit {
        precondition(socket < 0 && retiringSocket < 0, "a Redis connection's socket was not closed")
        address.deallocate()
        output.deallocate()
        input.deallocate()
        replies.deallocate()
        counterKey.deallocate()
        channel?.deallocate()
        username.deallocate()
        password?.deallocate()
    }

    static func bytes(_ text: String) -> UnsafeMutableRawBufferPointer {
        let utf8 = Array(text.utf8)
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, utf8.count), alignment: 1)
        bytes.copyBytes(from: utf8)
        return UnsafeMutableRawBufferPointer(rebasing: bytes[0..<utf8.count])
    }

    // MARK: - Connections

    /// A new connection on `descriptor`: HELLO (and SUBSCRIBE) go first in its output.
    func begin(socket descriptor: Int32, now: UInt32) {
        precondition(socket < 0 && operationsInFlight == 0 && replyCount == 0)
        socket = descriptor
        generation &+= 1
        state = .connecting
        retryDue = false
        var hello = RESPCommand("HELLO")
        hello.append("3")
        if let password {
            hello.append("AUTH")
            hello.append(.bytes(UnsafeRawBufferPointer(username)))
            hello.append(.bytes(UnsafeRawBufferPointer(password)))
        }
        _ = write(hello, expecting: PendingReply(kind: .hello, since: now))
        if let channel {
            // In RESP3 SUBSCRIBE is answered by a push, not a reply: nothing to wait for.
            var subscribe = RESPCommand("SUBSCRIBE")
            subscribe.append(.bytes(UnsafeRawBufferPointer(channel)))
            _ = write(subscribe, expecting: nil)
        }
        loadScripts(now: now)
    }

    /// Forgets the connection (its socket moves to `retiringSocket`) and hands back the replies
    /// that were pending, for the caller to fail.
    func reset() {
        precondition(retiringSocket < 0 || socket < 0)
        if socket >= 0 { retiringSocket = socket }
        socket = -1
        state = .down
        fillCount = 0
        sendInFlight = false
        inputCount = 0
        decoder.reset()
        value = .none
        relay?.loaded = 0
        refreshCursor = nil
    }

    /// Takes the socket for closing at shutdown.
    func takeSockets() -> (current: Int32, retiring: Int32) {
        defer {
            socket = -1
            retiringSocket = -1
        }
        return (socket, retiringSocket)
    }

    // MARK: - Commands

    /// Writes `command` into the filling half and remembers what its reply answers; false when
    /// either has no room, and then nothing is written.
    func write(_ command: RESPCommand, expecting reply: PendingReply?) -> Bool {
        if reply != nil && replyCount == replyCapacity { return false }
        var writer = ByteWriter(
            UnsafeMutableRawBufferPointer(
                rebasing: output[(fillingHalf * Self.outputHalfSize + fillCount)..<((fillingHalf + 1) * Self.outputHalfSize)]))
        guard let range = command.write(into: &writer) else { return false }
        fillCount += range.count
        lastCommandAt = reply?.since ?? lastCommandAt
        if let reply {
            replies[(replyHead + replyCount) % replyCapacity] = reply
            replyCount += 1
        }
        return true
    }

    /// INCR PREFIX:counter for a client waiting for its number.
    func incrementCounter(for descriptor: Int32, peer: Peer, now: UInt32) -> Bool {
        var increment = RESPCommand("INCR")
        increment.append(.bytes(UnsafeRawBufferPointer(counterKey)))
        let reply = PendingReply(kind: .incrementCounter, since: now, descriptor: descriptor, peer: peer)
        return write(increment, expecting: reply)
    }

    /// The oldest pending reply's kind; nil when none is pending.
    var oldestPendingKind: PendingReply.Kind? { replyCount > 0 ? replies[replyHead].kind : nil }

    /// When the oldest pending reply's command was queued; nil when none is pending.
    var oldestPendingSince: UInt32? { replyCount > 0 ? replies[replyHead].since : nil }

    /// The oldest pending reply, removed; nil when none is pending.
    func popReply() -> PendingReply? {
        guard replyCount > 0 else { return nil }
        defer {
            replyHead = (replyHead + 1) % replyCapacity
            replyCount -= 1
        }
        return replies[replyHead]
    }

    /// The filling half, when there is something to send and no send in flight: it becomes the
    /// half being sent, and the other one fills.
    func takeOutput() -> UnsafeRawBufferPointer? {
        guard !sendInFlight, fillCount > 0 else { return nil }
        let start = output.baseAddress! + fillingHalf * Self.outputHalfSize
        sendOffset = 0
        sendLength = fillCount
        fillCount = 0
        fillingHalf ^= 1
        sendInFlight = true
        return UnsafeRawBufferPointer(start: start, count: sendLength)
    }

    /// `count` bytes were sent; what is left of the half, or nil when it all went.
    func sent(_ count: Int) -> UnsafeRawBufferPointer? {
        sendOffset += count
        guard sendOffset < sendLength else {
            sendInFlight = false
            return nil
        }
        let start = output.baseAddress! + (fillingHalf ^ 1) * Self.outputHalfSize + sendOffset
        return UnsafeRawBufferPointer(start: start, count: sendLength - sendOffset)
    }

    /// Moves the `consumed` decoded bytes out of the input buffer, keeping the rest at its start.
    func discardInput(_ consumed: Int) {
        guard consumed > 0 else { return }
        let base = input.baseAddress!
        if consumed < inputCount { memmove(base, base + consumed, inputCount - consumed) }
        inputCount -= consumed
    }

    /// Whether `bytes` are the channel's name.
    func isChannel(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let channel, channel.count == bytes.count else { return false }
        return memcmp(channel.baseAddress!, bytes.baseAddress!, bytes.count) == 0
    }
}
