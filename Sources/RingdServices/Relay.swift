// Relay: the chat hub of the ECE 373 socket example. "The server maintains a table of client names
// ... Upon receiving a message from one client, the server can then forward it ... When a client
// quits, it should send a final message informing the server that it has quit, so the server can
// ... remove the client's socket descriptor from the table."
//
// The protocol, one line at a time (lines come from a LineFramer; CR LF or LF both end a line,
// and everything the hub sends ends in a bare "\n"):
//
//   text           -> "NAME: text\n" to every OTHER client (no self-echo); an empty line is dropped
//   /nick NAME     -> "* OLD is now NAME\n" to everyone (only to the sender without notices);
//                     NAME is 1...32 visible ASCII characters (0x21...0x7E: no spaces) that
//                     no other client holds; otherwise an "error: ...\n" line to the sender
//                     alone, naming what is wrong
//   /quit          -> "* NAME left\n" to the others, then close the sender
//   /other         -> "error: unknown command; ...\n" to the sender
//   connect        -> "* you are NAME\n" to the new client, "* NAME joined\n" to the others
//   disconnect     -> "* NAME left\n" to the others
//
// A new client is named `client<N>`, N counting connections to this hub from 1 (with a stride,
// so workers can hand out disjoint numbers); names of that form are reserved for it, so a later
// client's default name never collides with a chosen one. Join, leave and rename notices are
// optional (`Options.notices`), as is the welcome line.
//
// The hub is a Service: it holds a fixed-capacity table indexed by the engine's connection slot,
// writes the lines it wants sent into the engine's ByteWriter, and returns at most two actions, each
// `send(bytes: range in the writer, to: recipients)` or `closeAfterOutput(slot)`, carried out in order.
// Actions from successive calls keep each sender's lines in order. "allExcept" and "everyone"
// mean the clients of this hub; delivering to clients held by other workers is the server's
// business, and RelayFormat renders the same lines so a line can be rendered once and fanned out.
// Chosen names are unique among the clients of every hub that shares the hub's `RelayNameClaims`:
// in the server that is all the workers' hubs; the hub itself holds no lock.

/// Who holds the names clients chose with /nick. The numbered names need no record: each worker
/// hands out its own numbers, and nobody may choose one.
///
/// A hub gets one of these rather than searching its own table so that in the server every
/// worker's hub asks the same record, and a name is unique among all clients, not only among
/// one worker's. It is asked on /nick and when a renamed client leaves, never for a chat line.
public protocol RelayNameClaims: AnyObject {
    /// Records `name` as held; false, recording nothing, if a client already holds it.
    func claim(_ name: RelayName) -> Bool
    /// `name` is free again.
    func release(_ name: RelayName)
}

/// The names chosen on one hub, for a hub that has nobody to share them with.
public final class RelayNameSet: RelayNameClaims {
    private var taken: Set<RelayName> = []

    public init() {}

    public func claim(_ name: RelayName) -> Bool { taken.insert(name).inserted }

    public func release(_ name: RelayName) { taken.remove(name) }
}

/// What a relay hub says besides the chat, and how it numbers its clients.
public struct RelayOptions: Sendable {
    /// Send join, leave and rename notices to the other clients.
    public var notices = true
    /// Tell a new client its name: `* you are client7`.
    public var welcome = true
    /// The number in the first client's name.
    public var firstClientNumber: UInt64 = 1
    /// Added for each later client, so worker i of n can use first i + 1, stride n.
    public var clientNumberStride: UInt64 = 1

    public init(notices: Bool = true, welcome: Bool = true, firstClientNumber: UInt64 = 1, clientNumberStride: UInt64 = 1) {
        self.notices = notices
        self.welcome = welcome
        self.firstClientNumber = firstClientNumber
        self.clientNumberStride = clientNumberStride
    }
}

/// The chat hub: a client table and the protocol in the file comment.
public struct RelayHub<Names: RelayNameClaims>: Service {
    public static var input: ServiceInput { .lines }
    public static var slowReaders: SlowReaderPolicy { .cut }
    public static var reach: ServiceReach { .everyWorker }

    public typealias Options = RelayOptions

    /// Notices and welcome can change (a reloaded configuration); the numbering does not.
    public var options: Options
    /// Names by connection slot; nil for a slot with no client.
    private var names: [RelayName?]
    /// The chosen names, held by this hub's clients and perhaps other hubs' too.
    public let claims: Names
    /// Clients in the table.
    public private(set) var clientCount = 0
    private var nextClientNumber: UInt64

    /// The longest chat line accepted, in bytes.
    public let maximumLineLength: Int

    /// A hub for slots 0..<capacity. The table is allocated here, once.
    public init(capacity: Int, maxLine: Int = 4096, options: Options = Options(), claims: Names) {
        precondition(capacity > 0)
        self.options = options
        maximumLineLength = maxLine
        self.claims = claims
        names = Array(repeating: nil, count: capacity)
        nextClientNumber = options.firstClientNumber
    }

    public var capacity: Int { names.count }
    public var maximumOutputCount: Int { RelayFormat.maximumHubOutputCount(maxLine: maximumLineLength) }

    /// The name of the client in `slot`, or nil.
    public func name(ofSlot slot: Int) -> RelayName? {
        names.indices.contains(slot) ? names[slot] : nil
    }

    /// A client connected in `slot`: it gets a name, a welcome, and the others a join notice.
    public mutating func opened(_ slot: Int, peer: Peer, context: ServiceContext, into writer: inout ByteWriter) -> ServiceActions
    {
        precondition(names.indices.contains(slot), "slot \(slot) is outside the hub's \(capacity) slots")
        precondition(names[slot] == nil, "slot \(slot) already holds a client")
        let name = RelayName.numbered(nextClientNumber)
        nextClientNumber &+= options.clientNumberStride
        names[slot] = name
        clientCount += 1
        var actions = ServiceActions()
        if options.welcome {
            actions.append(.send(bytes: fitting(RelayFormat.writeWelcome(name, into: &writer)), to: .one(slot: slot)))
        }
        if options.notices {
            actions.append(.send(bytes: fitting(RelayFormat.writeJoined(name, into: &writer)), to: .allExcept(slot: slot)))
        }
        return actions
    }

    /// A complete line from the client in `slot`. Lines from a slot without a client (after its
    /// `/quit`, for instance) are ignored.
    public mutating func received(_ line: Line, from slot: Int, into writer: inout ByteWriter) -> ServiceActions {
        guard let name = name(ofSlot: slot) else { return ServiceActions() }
        let text = line.content
        if text.first == UInt8(ascii: "/") { return command(text, from: slot, name: name, into: &writer) }
        var actions = ServiceActions()
        if !text.isEmpty {
            actions.append(
                .send(bytes: fitting(RelayFormat.writeChat(from: name, text: text, into: &writer)), to: .allExcept(slot: slot)))
        }
        return actions
    }

    /// The connection in `slot` is gone. Nothing happens if the slot is already free (the client
    /// sent `/quit`), so the server can always call this when it closes a connection.
    public mutating func closed(_ slot: Int, into writer: inout ByteWriter) -> ServiceActions {
        var actions = ServiceActions()
        guard let name = name(ofSlot: slot) else { return actions }
        remove(slot)
        if options.notices {
            actions.append(.send(bytes: fitting(RelayFormat.writeLeft(name, into: &writer)), to: .allExcept(slot: slot)))
        }
        return actions
    }

    private mutating func command(
        _ text: UnsafeRawBufferPointer, from slot: Int, name: RelayName, into writer: inout ByteWriter
    ) -> ServiceActions {
        let commandEnd = text.firstIndex(of: UInt8(ascii: " ")) ?? text.count
        let command = UnsafeRawBufferPointer(rebasing: text[0..<commandEnd])
        var actions = ServiceActions()
        if command.elementsEqual("/quit".utf8) {
            actions.append(contentsOf: closed(slot, into: &writer))
            actions.append(.closeAfterOutput(slot: slot))
        } else if command.elementsEqual("/nick".utf8) {
            var argumentStart = commandEnd
            while argumentStart < text.count && text[argumentStart] == UInt8(ascii: " ") { argumentStart += 1 }
            actions.append(rename(slot, from: name, to: UnsafeRawBufferPointer(rebasing: text[argumentStart...]), into: &writer))
        } else {
            actions.append(reply(.unknownCommand, to: slot, into: &writer))
        }
        return actions
    }

    private mutating func rename(
        _ slot: Int, from old: RelayName, to proposed: UnsafeRawBufferPointer, into writer: inout ByteWriter
    ) -> ServiceAction {
        let new: RelayName
        do {
            new = try RelayName(proposed)
        } catch {
            return reply(error == .reserved ? .reservedName : .invalidName, to: slot, into: &writer)
        }
        if new == old { return reply(.alreadyNamed(old), to: slot, into: &writer) }
        guard claims.claim(new) else { return reply(.nameTaken(new), to: slot, into: &writer) }
        if !old.isReserved { claims.release(old) }
        names[slot] = new
        let bytes = fitting(RelayFormat.writeRenamed(from: old, to: new, into: &writer))
        return .send(bytes: bytes, to: options.notices ? .everyone : .one(slot: slot))
    }

    private func reply(_ error: RelayError, to slot: Int, into writer: inout ByteWriter) -> ServiceAction {
        .send(bytes: fitting(RelayFormat.writeError(error, into: &writer)), to: .one(slot: slot))
    }

    private mutating func remove(_ slot: Int) {
        if let name = names[slot], !name.isReserved { claims.release(name) }
        names[slot] = nil
        clientCount -= 1
    }

    /// The range a RelayFormat call wrote. The caller sized the writer with
    /// `maximumOutputCount`, so a line that does not fit is a bug in the caller.
    private func fitting(_ written: Range<Int>?) -> Range<Int> {
        guard let written else {
            preconditionFailure("the relay's writer is full; size it with RelayFormat.maximumHubOutputCount(maxLine:)")
        }
        return written
    }
}

extension RelayHub {
    /// Notices and the welcome follow a reloaded configuration; names and numbering stay.
    public mutating func reconfigure(from fresh: consuming RelayHub) {
        options.notices = fresh.options.notices
        options.welcome = fresh.options.welcome
    }
}

extension RelayHub where Names == RelayNameSet {
    /// A hub whose chosen names are its own affair.
    public init(capacity: Int, maxLine: Int = 4096, options: Options = Options()) {
        self.init(capacity: capacity, maxLine: maxLine, options: options, claims: RelayNameSet())
    }
}
