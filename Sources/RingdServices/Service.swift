// Service: the contract between the engine (RingdServer's event loop) and a mode.
//
// The engine owns sockets, buffers, send queues and the lifecycle of each connection; a service
// owns what a mode means. The engine hands the service events, and the service answers with
// actions it wants carried out, in order:
//
//   events                                   actions
//   opened(slot, peer)                       send(bytes, to: one / allExcept / everyone / client)
//   received(line, from: slot)               closeAfterOutput(slot)
//   inputEnded(slot, lastLine)               pauseReading(slot) / resumeReading(slot)
//   outputDrained(slot)
//   closed(slot)
//   tick                                     (every `tickInterval`)
//   upstream(message)                        publish(bytes)       (with a cluster)
//   clusterAnswered(answer)                  cluster(request)     (with a cluster)
//
// Bytes are written into the ByteWriter the engine passes, which has at least
// `maximumOutputCount` free bytes; an action names a range of that writer. The engine renders
// into its output arena, so a line a service writes once is sent to any number of clients
// without a copy. Lines from another worker (relay) are the engine's business: a service whose
// `reach` is `.everyWorker` has its `everyone` and `allExcept` sends posted to the other workers,
// which queue them to their own clients, and a `client` send on another worker posted to that
// worker alone, which asks its own service (`holdsClient`) whether the client is still there.
// With a cluster, `publish` puts bytes on the service's `clusterChannel`, where every worker of
// every host hears them (as `upstream`, so a service tells its own host's messages by what it
// wrote in them), and `cluster` asks the engine for something Redis keeps (a name); Redis's
// answer comes back as `clusterAnswered`.
//
// A service is plain code: no ring, no socket, no clock of its own (time comes in the
// `ServiceContext`), so every mode is tested with no I/O. The engine is generic over the service
// (one specialisation per mode), so the static properties below are constants in each
// specialisation: the loop has no branch on the mode and no existential on its path.
//
// The engine calls `opened` once per connection and `closed` once, when the connection stops
// taking input (it is closing, or it was told to close after its output); no event for that
// slot comes between `closed` and the next `opened`.

/// How a connection's input reaches the service.
public enum ServiceInput: Sendable {
    /// Never read. The engine sends `greeting` and closes, without taking a connection slot
    /// (greet, counter).
    case none
    /// Read and dropped, so a chatty client never fills its socket buffer (broadcast).
    case dropped
    /// Cut into lines by the engine's line framer, each handed to `received(_:from:into:)`.
    case lines
    /// Sent straight back from the receive buffers by the engine's own fast path (raw echo); the
    /// service sees no input at all.
    case echoed
}

/// What the engine does with a client that does not read what it is sent.
public enum SlowReaderPolicy: Sendable {
    /// Waits: reading from it stops while `io.output_limit` bytes are queued for it (echo).
    case paused
    /// Cuts it off once its queue passes `io.output_cap`, or stays above `io.output_soft_cap`
    /// for `io.output_soft_time` (output the client did not ask for: broadcast, relay).
    case cut
}

/// Which clients `everyone` and `allExcept` name.
public enum ServiceReach: Sendable {
    /// The clients of this worker.
    case thisWorker
    /// The clients of every worker: the engine posts the bytes to the others.
    case everyWorker
}

/// What the engine knows when an event happens, for the placeholders of a message.
public struct ServiceContext: Sendable {
    /// The wall clock, for `{time}`.
    public var time: UnixTime
    /// For `{clients}`: connections open across every worker, or for a send-and-close service
    /// the greetings this worker is sending, this one included.
    public var clients: Int
    /// Connections open on this worker.
    public var connections: Int

    public init(time: UnixTime, clients: Int, connections: Int) {
        self.time = time
        self.clients = clients
        self.connections = connections
    }
}

/// Who bytes go to, as connection slots.
public enum Recipients: Sendable, Equatable {
    case one(slot: Int)
    /// Every client but this one (the sender, or a client that just left).
    case allExcept(slot: Int)
    case everyone
    /// One client of any worker in the process (a service whose `reach` is `.everyWorker`):
    /// `address.worker`'s slot `address.slot`, provided that worker's service says the slot
    /// still holds client number `address.client` when the bytes get there. A client that left
    /// meanwhile does not get them, nor a later one in its slot.
    case client(RelayAddress)
}

public enum ServiceAction: Sendable, Equatable {
    /// Send bytes `bytes` of the writer passed to the call that returned this action.
    case send(bytes: Range<Int>, to: Recipients)
    /// Close the connection once what is queued for it has been sent (a FIN, then the close).
    case closeAfterOutput(slot: Int)
    /// Stop reading from the connection until `resumeReading`; TCP flow control then slows the
    /// client down.
    case pauseReading(slot: Int)
    case resumeReading(slot: Int)
    /// With a cluster: PUBLISH the bytes on `clusterChannel`, for every worker of every host
    /// (this one's too: see `upstream`). Dropped and counted while Redis cannot take them.
    case publish(bytes: Range<Int>)
    /// With a cluster: what Redis should do; answered by `clusterAnswered` (see ClusterRequest).
    case cluster(ClusterRequest)
}

/// Up to four actions, stored inline so that answering an event allocates nothing; carried
/// out in order.
public struct ServiceActions: RandomAccessCollection, Sendable, Equatable {
    private var first: ServiceAction?
    private var second: ServiceAction?
    private var third: ServiceAction?
    private var fourth: ServiceAction?

    public init() {}

    public init(_ action: ServiceAction) {
        first = action
    }

    public mutating func append(_ action: ServiceAction) {
        if first == nil {
            first = action
        } else if second == nil {
            second = action
        } else if third == nil {
            third = action
        } else {
            precondition(fourth == nil, "a service answers one event with at most four actions")
            fourth = action
        }
    }

    public mutating func append(contentsOf actions: ServiceActions) {
        for action in actions { append(action) }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { first == nil ? 0 : second == nil ? 1 : third == nil ? 2 : fourth == nil ? 3 : 4 }
    public subscript(position: Int) -> ServiceAction {
        precondition(position >= 0 && position < endIndex, "index \(position) out of range")
        switch position {
        case 0: return first!
        case 1: return second!
        case 2: return third!
        default: return fourth!
        }
    }
}

/// A channel of the cluster's Redis a service hears: `PREFIX:NAME`.
public enum ClusterChannel: String, Sendable {
    /// `PREFIX:broadcast`: lines published from anywhere for every subscriber on every host.
    case broadcast
    /// `PREFIX:relay`: the relay's lines between hosts (RelayWire says what they hold).
    case relay
}

/// A name a client holds in the cluster's Redis, and which client: the slot and the number it got
/// when it connected, so that an answer that comes after the client left is recognised.
public struct ClusterClaim: Sendable, Equatable {
    public var name: RelayName
    public var slot: Int
    public var client: UInt64

    public init(name: RelayName, slot: Int, client: UInt64) {
        self.name = name
        self.slot = slot
        self.client = client
    }
}

/// What a service asks of the cluster's Redis. Each is answered once, by `clusterAnswered`
/// (`.failed` when Redis is down, its queue full, or the connection lost before the answer).
public enum ClusterRequest: Sendable, Equatable {
    /// Holds `claim.name` for the client across hosts, unless a client of another host holds it:
    /// `PREFIX:name:NAME`, with an expiry the engine refreshes while `forEachClaim` lists it.
    /// Answered with `.claimed`.
    case claim(ClusterClaim)
    /// Lets go of a name `claim` made (unless another host holds it by now). Answered only with
    /// `.failed`, when it cannot be sent; a release lost with the connection goes unanswered (the
    /// name expires).
    case release(ClusterClaim)
    /// Publishes `bytes` (rendered by the service, which names the target in them) if some host
    /// holds `target`; answered with `.privateSent`. `from` is the sender.
    case sendPrivate(from: ClusterClaim, target: RelayName, bytes: Range<Int>)
    /// The names held on every host, for the client in `for`; answered with `.names`.
    case listNames(for: ClusterClaim)
}

/// Redis's answer to a ClusterRequest, or news about a name the service holds. Bytes are valid
/// for the call only.
public enum ClusterAnswer {
    /// `claim` was granted, or refused because another host holds the name.
    case claimed(ClusterClaim, granted: Bool)
    /// A name the service held (listed by `forEachClaim`) was found taken by another host when
    /// the engine refreshed it or claimed it again after a reconnect.
    case lost(ClusterClaim)
    /// `/msg` through the cluster: some host holds the target (`delivered`), or none does.
    case privateSent(from: ClusterClaim, target: RelayName, delivered: Bool)
    /// `total` names are held across hosts; `listed` holds some of them, each followed by a space.
    case names(for: ClusterClaim, total: Int, listed: UnsafeRawBufferPointer)
    /// The request could not be carried out: Redis is down or slow.
    case failed(ClusterRequest)
}

/// A mode: see the file comment.
public protocol Service: SendableMetatype {
    static var input: ServiceInput { get }
    static var slowReaders: SlowReaderPolicy { get }
    static var reach: ServiceReach { get }
    /// The engine calls `outputDrained` (off by default: it costs a call per emptied queue).
    static var wantsOutputDrained: Bool { get }
    /// With a cluster (`[cluster] redis`), greetings are numbered across hosts: the engine asks
    /// Redis for each connection's number and calls `greeting(number:...)` with it (counter).
    static var numbersGreetingsInCluster: Bool { get }
    /// With a cluster, the channel whose messages the engine hands to `upstream`; nil for none.
    static var clusterChannel: ClusterChannel? { get }

    /// With a cluster: calls `body` with the names this service holds in Redis, for the engine
    /// to refresh them before they expire and to claim them again after a reconnect: those of
    /// slots `slot` and on, until `body` returns false (no room to send it). Returns the slot to
    /// go on from, that claim's, or nil when every name was given.
    func forEachClaim(from slot: Int, _ body: (ClusterClaim) -> Bool) -> Int?

    /// The most bytes one event writes; the engine hands every call a writer with this much room.
    var maximumOutputCount: Int { get }
    /// The longest line accepted, when `input` is `.lines`; a longer one gets `lineTooLong`.
    var maximumLineLength: Int { get }
    /// Whether `slot` still holds the client numbered `number`: the engine asks before it queues
    /// a `.client` send, posted by another worker, to that slot. False by default, for a service
    /// that never names a `.client` recipient.
    func holdsClient(_ number: UInt64, inSlot slot: Int) -> Bool
    /// The peer's address matters (`{peer}`, the access log): the engine asks the kernel for it.
    var needsPeer: Bool { get }
    /// How often `tick` runs; nil for no timer.
    var tickInterval: Duration? { get }
    /// For `input == .none`: bytes every connection gets, the same for all (rendered once), or
    /// nil when `greeting` renders them per connection. Valid until `reconfigure` replaces them
    /// and for as long as the service lives after that: sends in flight may still read them.
    var fixedGreeting: UnsafeRawBufferPointer? { get }

    /// For `input == .none`: renders what a new connection gets before it is closed. False when
    /// it does not fit; the connection is then closed without a word.
    mutating func greeting(peer: Peer, context: ServiceContext, into writer: inout ByteWriter) -> Bool

    /// As `greeting`, with the connection's number given by the cluster: `number` connections
    /// came before this one, on every host.
    mutating func greeting(number: UInt64, peer: Peer, context: ServiceContext, into writer: inout ByteWriter) -> Bool

    mutating func opened(_ slot: Int, peer: Peer, context: ServiceContext, into writer: inout ByteWriter) -> ServiceActions
    /// A message published on `clusterChannel`. The writer has room for `message.count + 1`
    /// bytes (the engine drops a message too long for that, and counts it).
    mutating func upstream(
        _ message: UnsafeRawBufferPointer, context: ServiceContext, into writer: inout ByteWriter
    )
        -> ServiceActions
    /// Redis answered a `cluster` request, or a held name was lost (see ClusterAnswer).
    mutating func clusterAnswered(
        _ answer: ClusterAnswer, context: ServiceContext, into writer: inout ByteWriter
    ) -> ServiceActions
    mutating func received(_ line: Line, from slot: Int, into writer: inout ByteWriter) -> ServiceActions
    /// A line passed `maximumLineLength`; nothing more is read from the connection.
    mutating func lineTooLong(from slot: Int, into writer: inout ByteWriter) -> ServiceActions
    /// The peer finished sending; `lastLine` is what it sent after its last "\n", if anything.
    mutating func inputEnded(_ slot: Int, lastLine: Line?, into writer: inout ByteWriter) -> ServiceActions
    /// Everything queued for the connection has been sent (only if `wantsOutputDrained`).
    mutating func outputDrained(_ slot: Int, into writer: inout ByteWriter) -> ServiceActions
    mutating func closed(_ slot: Int, into writer: inout ByteWriter) -> ServiceActions
    mutating func tick(context: ServiceContext, into writer: inout ByteWriter) -> ServiceActions

    /// Takes what a reloaded configuration may change from `fresh`, a service built from it;
    /// what this one has learned (names, counts, sequence numbers) stays.
    mutating func reconfigure(from fresh: consuming Self)
}

extension Service {
    public static var slowReaders: SlowReaderPolicy { .paused }
    public static var reach: ServiceReach { .thisWorker }
    public static var wantsOutputDrained: Bool { false }
    public static var numbersGreetingsInCluster: Bool { false }
    public static var clusterChannel: ClusterChannel? { nil }
    public var maximumLineLength: Int { 1 }
    public func holdsClient(_ number: UInt64, inSlot slot: Int) -> Bool { false }
    public var needsPeer: Bool { false }
    public var tickInterval: Duration? { nil }
    public var fixedGreeting: UnsafeRawBufferPointer? { nil }

    public mutating func greeting(peer: Peer, context: ServiceContext, into writer: inout ByteWriter) -> Bool { false }
    public mutating func greeting(number: UInt64, peer: Peer, context: ServiceContext, into writer: inout ByteWriter) -> Bool {
        false
    }
    public mutating func upstream(
        _ message: UnsafeRawBufferPointer, context: ServiceContext, into writer: inout ByteWriter
    )
        -> ServiceActions
    {
        ServiceActions()
    }
    public mutating func opened(_ slot: Int, peer: Peer, context: ServiceContext, into writer: inout ByteWriter) -> ServiceActions
    {
        ServiceActions()
    }
    public mutating func received(_ line: Line, from slot: Int, into writer: inout ByteWriter) -> ServiceActions {
        ServiceActions()
    }
    public func forEachClaim(from slot: Int, _ body: (ClusterClaim) -> Bool) -> Int? { nil }
    public mutating func clusterAnswered(
        _ answer: ClusterAnswer, context: ServiceContext, into writer: inout ByteWriter
    ) -> ServiceActions {
        ServiceActions()
    }
    /// `error: line longer than N bytes`, then a close.
    public mutating func lineTooLong(from slot: Int, into writer: inout ByteWriter) -> ServiceActions {
        var actions = ServiceActions()
        let start = writer.count
        if ServiceErrorLine.writeLineTooLong(maxLine: maximumLineLength, into: &writer) {
            actions.append(.send(bytes: start..<writer.count, to: .one(slot: slot)))
        }
        actions.append(.closeAfterOutput(slot: slot))
        return actions
    }
    public mutating func inputEnded(_ slot: Int, lastLine: Line?, into writer: inout ByteWriter) -> ServiceActions {
        ServiceActions()
    }
    public mutating func outputDrained(_ slot: Int, into writer: inout ByteWriter) -> ServiceActions {
        ServiceActions()
    }
    public mutating func closed(_ slot: Int, into writer: inout ByteWriter) -> ServiceActions { ServiceActions() }
    public mutating func tick(context: ServiceContext, into writer: inout ByteWriter) -> ServiceActions {
        ServiceActions()
    }
}

/// Raw echo: every byte back, in order. The engine's fast path does all of it (`.echoed`).
public struct RawEcho: Service {
    public static var input: ServiceInput { .echoed }
    public var maximumOutputCount: Int { 0 }

    public init() {}

    public mutating func reconfigure(from fresh: consuming RawEcho) {}
}
