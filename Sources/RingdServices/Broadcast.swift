// Broadcast: a message to every client on a timer, the "am I alive?" heartbeat of the Tcl
// exercises ("save a list of client channels and transmit a message every second").
//
// One Broadcast per worker. On each tick the engine calls `tick`, which advances `seq` and
// renders the message once into the writer it was handed (the worker's output arena); the
// engine then queues those same bytes to every client it holds, with no copy per client.
// Workers tick independently, so `seq` counts this worker's ticks: the first tick is seq 1, and
// every client sees consecutive numbers. A client that cannot keep up is cut off once its
// queued output passes `io.output_cap`, never skipped, so a gap in `seq` always means loss.
//
// The default message carries the fields ring-client's broadcast benchmark parses, `seq=` and
// `time=` (the send time, for latency): `seq=42 time=1732212345.123456 clients=3`.
// A greeting can be sent on connect. Whatever clients send is read and dropped, so a chatty
// client cannot fill its socket buffer and stall; `received(byteCount:)` counts the dropped bytes
// for a caller that reports them (the server does not call it today).

/// What to do with a client that just connected.
public enum AcceptAction: Sendable, Equatable {
    /// Send the writer's bytes and keep the connection.
    case send
    /// Keep the connection; there is nothing to send.
    case keep
    /// The message did not fit the writer, which is left as it was.
    case close
}

/// One worker's broadcast state.
public struct Broadcast: Service, Sendable {
    public static var input: ServiceInput { .dropped }
    public static var slowReaders: SlowReaderPolicy { .cut }
    public static var clusterChannel: ClusterChannel? { .broadcast }

    public static let defaultMessage = "seq={seq} time={time} clients={clients}\n"

    public enum TickAction: Sendable, Equatable {
        /// The writer holds this tick's message: send it to every client.
        case sendToAll(seq: UInt64)
        /// No clients, so nothing was rendered; the tick still counted.
        case idle(seq: UInt64)
        /// The message did not fit the writer (sized below `message.maximumRenderedCount`);
        /// nothing was written and the tick is skipped.
        case skipped(seq: UInt64)
    }

    public private(set) var message: MessageTemplate
    /// Sent to a client when it connects; nil sends nothing.
    public private(set) var greeting: MessageTemplate?
    /// The last tick's sequence number; 0 before the first tick.
    public private(set) var seq: UInt64 = 0
    /// Bytes received from clients and dropped.
    public private(set) var droppedInputBytes: UInt64 = 0

    /// Time between two ticks.
    public private(set) var interval: Duration

    public init(message: MessageTemplate, greeting: MessageTemplate? = nil, interval: Duration = .seconds(1)) {
        self.message = message
        self.greeting = greeting
        self.interval = interval
    }

    public init() {
        self.init(message: try! MessageTemplate(parsing: Self.defaultMessage))
    }

    /// New messages from a reloaded configuration; `seq` carries on, so clients see no gap.
    public mutating func reconfigure(message: MessageTemplate, greeting: MessageTemplate?) {
        self.message = message
        self.greeting = greeting
    }

    /// Advances `seq` and renders the tick's message into `writer`. `clients` is the number the
    /// message shows as `{clients}` (the server passes the count across all workers); zero
    /// renders nothing.
    public mutating func tick(time: UnixTime, clients: Int, into writer: inout ByteWriter) -> TickAction {
        seq += 1
        guard clients > 0 else { return .idle(seq: seq) }
        let values = MessageTemplate.Values(seq: seq, time: time, clients: clients)
        return message.render(values, into: &writer) ? .sendToAll(seq: seq) : .skipped(seq: seq)
    }

    /// The greeting for a new client, if there is one. `clients` includes the new client.
    public func accepted(peer: Peer, time: UnixTime, clients: Int, into writer: inout ByteWriter) -> AcceptAction {
        guard let greeting else { return .keep }
        let values = MessageTemplate.Values(seq: seq, time: time, clients: clients, peer: peer)
        return greeting.render(values, into: &writer) ? .send : .close
    }

    /// Bytes a client sent: they are dropped, and only counted.
    public mutating func received(byteCount: Int) {
        droppedInputBytes &+= UInt64(byteCount)
    }

    // MARK: Service

    public var maximumOutputCount: Int { max(message.maximumRenderedCount, greeting?.maximumRenderedCount ?? 0) }
    public var needsPeer: Bool { greeting?.placeholders.contains(.peer) == true }
    public var tickInterval: Duration? { interval }

    public mutating func opened(_ slot: Int, peer: Peer, context: ServiceContext, into writer: inout ByteWriter) -> ServiceActions
    {
        let start = writer.count
        guard accepted(peer: peer, time: context.time, clients: context.clients, into: &writer) == .send else {
            return ServiceActions()
        }
        return ServiceActions(.send(bytes: start..<writer.count, to: .one(slot: slot)))
    }

    /// One heartbeat for every client of this worker; with none, the tick only counts.
    public mutating func tick(context: ServiceContext, into writer: inout ByteWriter) -> ServiceActions {
        let start = writer.count
        let clients = context.connections > 0 ? context.clients : 0
        guard case .sendToAll = tick(time: context.time, clients: clients, into: &writer) else { return ServiceActions() }
        return ServiceActions(.send(bytes: start..<writer.count, to: .everyone))
    }

    /// A message published on `PREFIX:broadcast` goes to every client of this worker as one line:
    /// a line break inside it becomes a space, and a "\n" ends it.
    public mutating func upstream(
        _ message: UnsafeRawBufferPointer, context: ServiceContext, into writer: inout ByteWriter
    )
        -> ServiceActions
    {
        let start = writer.count
        guard context.connections > 0, writer.claimRoom(for: message.count + 1) else { return ServiceActions() }
        for byte in message {
            writer.write(byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") ? UInt8(ascii: " ") : byte)
        }
        writer.write(UInt8(ascii: "\n"))
        guard writer.commit(since: start) else { return ServiceActions() }
        return ServiceActions(.send(bytes: start..<writer.count, to: .everyone))
    }

    /// The messages and the interval change; `seq` carries on, so clients see no gap.
    public mutating func reconfigure(from fresh: consuming Broadcast) {
        reconfigure(message: fresh.message, greeting: fresh.greeting)
        interval = fresh.interval
    }
}
