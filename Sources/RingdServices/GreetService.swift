// Greet: the first accept-and-close service of the Tcl socket exercises, "accept a connection,
// send a message and immediately close the channel".
//
// The engine sends the message and closes the socket in one linked pair of submissions; input
// is never read and no connection slot is taken. A message without placeholders is rendered
// once (`fixedGreeting`) and sent as is to everyone.

public struct GreetService: Service {
    public static var input: ServiceInput { .none }
    public static let defaultMessage = "Hello from ringd, {peer}\n"

    public private(set) var message: MessageTemplate
    private var rendered: RenderedMessage?
    /// Messages a reload replaced; a send in flight may still read them (a few bytes a reload).
    private var retired: [RenderedMessage] = []

    public init(message: MessageTemplate) {
        self.message = message
        rendered = RenderedMessage(message)
    }

    public init() {
        self.init(message: try! MessageTemplate(parsing: Self.defaultMessage))
    }

    public var maximumOutputCount: Int { message.maximumRenderedCount }
    public var needsPeer: Bool { message.placeholders.contains(.peer) }
    public var fixedGreeting: UnsafeRawBufferPointer? { rendered?.bytes }

    public mutating func greeting(peer: Peer, context: ServiceContext, into writer: inout ByteWriter) -> Bool {
        message.render(MessageTemplate.Values(time: context.time, clients: context.clients, peer: peer), into: &writer)
    }

    public mutating func reconfigure(from fresh: consuming GreetService) {
        if let rendered { retired.append(rendered) }
        message = fresh.message
        rendered = fresh.rendered
    }
}
