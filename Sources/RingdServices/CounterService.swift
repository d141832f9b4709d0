// Counter: the second accept-and-close service of the Tcl socket exercises, "report how many
// connections have been made before closing the channel".
//
// The number comes from `ConnectionNumbers`, which the server shares among its workers (one
// atomic fetch-add a connection), so N connections to any worker get exactly 0..<N. The engine
// sends the message and closes, as for greet. With a cluster the engine numbers connections
// across hosts instead (INCR in Redis) and calls `greeting(number:...)` with the result.

/// Hands out connection numbers from 0, one per call, to every service that shares it.
public protocol ConnectionNumbers: AnyObject {
    /// How many connections came before this one.
    func next() -> UInt64
}

/// Numbers for a counter that shares them with nobody.
public final class LocalConnectionNumbers: ConnectionNumbers {
    private var count: UInt64 = 0

    public init() {}

    public func next() -> UInt64 {
        defer { count += 1 }
        return count
    }
}

public struct CounterService<Numbers: ConnectionNumbers>: Service {
    public static var input: ServiceInput { .none }
    public static var defaultMessage: String { "{count} connections before you\n" }
    /// With a cluster, the number comes from Redis (`INCR PREFIX:counter`) instead of `numbers`,
    /// so it counts every host's connections.
    public static var numbersGreetingsInCluster: Bool { true }

    public private(set) var message: MessageTemplate
    public let numbers: Numbers
    private var rendered: RenderedMessage?
    /// Messages a reload replaced; a send in flight may still read them.
    private var retired: [RenderedMessage] = []

    public init(message: MessageTemplate, numbers: Numbers) {
        self.message = message
        self.numbers = numbers
        rendered = RenderedMessage(message)
    }

    public var maximumOutputCount: Int { message.maximumRenderedCount }
    public var needsPeer: Bool { message.placeholders.contains(.peer) }
    /// Only a message without `{count}` (or any placeholder) is the same for everyone.
    public var fixedGreeting: UnsafeRawBufferPointer? { rendered?.bytes }

    public mutating func greeting(peer: Peer, context: ServiceContext, into writer: inout ByteWriter) -> Bool {
        let values = MessageTemplate.Values(count: numbers.next(), time: context.time, clients: context.clients, peer: peer)
        return message.render(values, into: &writer)
    }

    /// `number` is the cluster's: INCR on `PREFIX:counter`, less one.
    public mutating func greeting(number: UInt64, peer: Peer, context: ServiceContext, into writer: inout ByteWriter) -> Bool {
        let values = MessageTemplate.Values(count: number, time: context.time, clients: context.clients, peer: peer)
        return message.render(values, into: &writer)
    }

    public mutating func reconfigure(from fresh: consuming CounterService) {
        if let rendered { retired.append(rendered) }
        message = fresh.message
        rendered = fresh.rendered
    }
}

extension CounterService where Numbers == LocalConnectionNumbers {
    public init() {
        self.init(message: try! MessageTemplate(parsing: Self.defaultMessage), numbers: LocalConnectionNumbers())
    }
}
