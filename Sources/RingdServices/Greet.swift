// Greet and Counter: the two accept-and-close services of the Tcl socket exercises.
//
//   greet    "accept a connection, send a message and immediately close the channel"
//   counter  "report how many connections have been made before closing the channel"
//
// On accept, the event loop asks for the bytes to send; it sends them and then closes gracefully
// (shutdown of the write side after the last byte, then close). Input is never read. Counter's
// number comes from the caller: the server keeps one process-wide count with an atomic
// fetch-add and passes the value it got back, which is how many connections came before this
// one (0 for the first), so no state lives here and workers need not agree on anything else.

/// What to do with a connection that was just accepted.
public enum AcceptAction: Sendable, Equatable {
    /// Send the writer's bytes, then shut down the write side and close (greet, counter).
    case sendThenClose
    /// Send the writer's bytes and keep the connection (a broadcast or relay greeting).
    case send
    /// Keep the connection; there is nothing to send.
    case keep
    /// The message did not fit the writer, which is left as it was: close without sending.
    case close
}

/// Sends one message and closes.
public struct Greet: Sendable {
    public static let defaultMessage = "Hello from ringd, {peer}\n"

    public let message: MessageTemplate

    public init(message: MessageTemplate) {
        self.message = message
    }

    public init() {
        self.init(message: try! MessageTemplate(parsing: Self.defaultMessage))
    }

    /// Renders the greeting for a new connection. `clients` is the worker's open connections.
    public func accepted(peer: Peer, time: UnixTime, clients: Int = 0, into writer: inout ByteWriter) -> AcceptAction {
        let values = MessageTemplate.Values(time: time, clients: clients, peer: peer)
        return message.render(values, into: &writer) ? .sendThenClose : .close
    }
}

/// Sends how many connections came before this one, and closes.
public struct Counter: Sendable {
    public static let defaultMessage = "{count} connections before you\n"

    public let message: MessageTemplate

    public init(message: MessageTemplate) {
        self.message = message
    }

    public init() {
        self.init(message: try! MessageTemplate(parsing: Self.defaultMessage))
    }

    /// Renders the count for a new connection; `connectionsBefore` is the value the server's
    /// shared counter had before this connection incremented it.
    public func accepted(connectionsBefore: UInt64, peer: Peer, time: UnixTime, clients: Int = 0, into writer: inout ByteWriter) -> AcceptAction {
        let values = MessageTemplate.Values(count: connectionsBefore, time: time, clients: clients, peer: peer)
        return message.render(values, into: &writer) ? .sendThenClose : .close
    }
}
