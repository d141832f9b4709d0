// Relay: the chat hub of the ECE 373 socket example. "The server maintains a table of client names
// ... Upon receiving a message from one client, the server can then forward it to a destination
// client using the table ... When a client quits, it should send a final message informing the
// server that it has quit, so the server can ... remove the client's socket descriptor from the
// table."
//
// The protocol, one line at a time (lines come from a LineFramer; CR LF or LF both end a line,
// and everything the hub sends ends in a bare "\n"):
//
//   text           -> "NAME: text\n" to every OTHER client (no self-echo); an empty line is dropped
//   /msg NAME text -> "SENDER (private): text\n" to the client called NAME alone (which may be
//                     the sender itself), and no echo otherwise; "error: no such client NAME\n"
//                     when nobody is called that, "error: usage: ...\n" without a text
//   /who           -> "* online: NAME NAME ...\n" to the sender: every client's name, in no
//                     particular order, as many as fit in `RelayFormat.whoLineLimit` (512)
//                     bytes, then " and N more" for the rest, so the line stays short
//                     whatever the crowd
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
// With a cluster (`Options.node`), the hub spans every host: RelayCluster.swift.
//
// The hub is a Service: it holds a fixed-capacity table indexed by the engine's connection slot,
// writes the lines it wants sent into the engine's ByteWriter, and returns at most four actions,
// each `send(bytes: range in the writer, to: recipients)` or `closeAfterOutput(slot)` (with a
// cluster also `publish` and `cluster`), carried out in order.
// Actions from successive calls keep each sender's lines in order. "allExcept" and "everyone"
// mean the clients of this hub; delivering to clients held by other workers is the server's
// business, and RelayFormat renders the same lines so a line can be rendered once and fanned out.
//
// Every client's name, and where the client is, is in the hub's `RelayDirectory`: in the server
// one directory serves all the workers' hubs, so a name is unique among all clients, /who lists
// them all and /msg finds its target on any worker. The hub holds no lock; the directory is
// asked when a client connects, leaves, or sends /nick, /msg or /who, never for a chat line.
// A /msg to a client of another worker is a `.client(address)` send: the engine posts it to
// that worker in the same stream as the sender's chat lines, and that worker's hub says
// (`holdsClient`) whether the slot still holds the client the address names when it arrives.

/// Where a relay client is: the worker whose hub holds it, its slot there, and the number it
/// was given when it connected (the N of clientN, never reused), which tells it from a later
/// client in the same slot.
public struct RelayAddress: Sendable, Equatable {
    public var worker: Int
    public var slot: Int
    public var client: UInt64

    public init(worker: Int, slot: Int, client: UInt64) {
        self.worker = worker
        self.slot = slot
        self.client = client
    }
}

/// Every relay client's name and where it is.
///
/// A hub gets one of these rather than searching its own table so that in the server every
/// worker's hub asks the same record: a name is unique among all clients, not only among one
/// worker's, and /msg and /who reach them all. It is asked when a client connects or leaves and
/// for /nick, /msg and /who, never for a chat line.
public protocol RelayDirectory: AnyObject {
    /// Records that the client at `address` is called `name`; false, recording nothing, if a
    /// client already is.
    func claim(_ name: RelayName, for address: RelayAddress) -> Bool
    /// Nobody is called `name` any more.
    func release(_ name: RelayName)
    /// Where the client called `name` is, or nil.
    func find(_ name: RelayName) -> RelayAddress?
    /// Calls `body` with one client's name after another, in no particular order, until it
    /// returns false or every name has been given; returns how many clients there are.
    func listNames(while body: (RelayName) -> Bool) -> Int
}

/// The names on one hub, for a hub that has nobody to share them with.
public final class LocalRelayDirectory: RelayDirectory {
    private var addresses: [RelayName: RelayAddress] = [:]

    public init() {}

    public func claim(_ name: RelayName, for address: RelayAddress) -> Bool {
        guard addresses[name] == nil else { return false }
        addresses[name] = address
        return true
    }

    public func release(_ name: RelayName) { addresses[name] = nil }

    public func find(_ name: RelayName) -> RelayAddress? { addresses[name] }

    public func listNames(while body: (RelayName) -> Bool) -> Int {
        for name in addresses.keys where !body(name) { break }
        return addresses.count
    }
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
    /// The worker this hub serves, as its clients' addresses in the directory give it.
    public var worker = 0
    /// With a cluster, this host's node name (`cluster.node`): lines also go to the other hosts,
    /// and default names are `client<N>@<node>` (RelayCluster.swift). Nil for one host alone.
    public var node: RelayName?

    public init(
        notices: Bool = true, welcome: Bool = true, firstClientNumber: UInt64 = 1, clientNumberStride: UInt64 = 1,
        worker: Int = 0,
        node: RelayName? = nil
    ) {
        self.node = node
        self.notices = notices
        self.welcome = welcome
        self.firstClientNumber = firstClientNumber
        self.clientNumberStride = clientNumberStride
        self.worker = worker
    }
}

/// The chat hub: a client table and the protocol in the file comment.
public struct RelayHub<Directory: RelayDirectory>: Service {
    public static var input: ServiceInput { .lines }
    public static var slowReaders: SlowReaderPolicy { .cut }
    public static var reach: ServiceReach { .everyWorker }
    public static var clusterChannel: ClusterChannel? { .relay }

    public typealias Options = RelayOptions

    /// A client in the table: what it is called and the number it got when it connected.
    struct Client {
        var name: RelayName
        let number: UInt64
        /// With a cluster: the name a /nick asked Redis for, held in the directory meanwhile.
        var pendingName: RelayName? = nil
        /// The name is one it chose (with a cluster, claimed in Redis), not its default.
        var chosen = false
    }

    /// Notices and welcome can change (a reloaded configuration); the numbering does not.
    public var options: Options
    /// Clients by connection slot; nil for a slot with no client.
    var clients: [Client?]
    /// Every client's name, this hub's and perhaps other hubs' too.
    public let directory: Directory
    /// Clients in the table.
    public private(set) var clientCount = 0
    private var nextClientNumber: UInt64

    /// The longest chat line accepted, in bytes.
    public let maximumLineLength: Int

    /// A hub for slots 0..<capacity. The table is allocated here, once.
    public init(capacity: Int, maxLine: Int = 4096, options: Options = Options(), directory: Directory) {
        precondition(capacity > 0)
        self.options = options
        maximumLineLength = maxLine
        self.directory = directory
        clients = Array(repeating: nil, count: capacity)
        nextClientNumber = options.firstClientNumber
    }

    public var capacity: Int { clients.count }
    public var maximumOutputCount: Int { RelayFormat.maximumHubOutputCount(maxLine: maximumLineLength) }

    /// The name of the client in `slot`, or nil.
    public func name(ofSlot slot: Int) -> RelayName? {
        clients.indices.contains(slot) ? clients[slot]?.name : nil
    }

    /// True when `slot` holds the client numbered `number`: a /msg another worker's hub sent
    /// it is still for this client, not for one that took the slot after it left.
    public func holdsClient(_ number: UInt64, inSlot slot: Int) -> Bool {
        clients.indices.contains(slot) && clients[slot]?.number == number
    }

    /// A client connected in `slot`: it gets a name, a welcome, and the others a join notice.
    public mutating func opened(_ slot: Int, peer: Peer, context: ServiceContext, into writer: inout ByteWriter) -> ServiceActions
    {
        precondition(clients.indices.contains(slot), "slot \(slot) is outside the hub's \(capacity) slots")
        precondition(clients[slot] == nil, "slot \(slot) already holds a client")
        let client = Client(name: .numbered(nextClientNumber, node: options.node), number: nextClientNumber)
        nextClientNumber &+= options.clientNumberStride
        // Numbered names cannot be chosen, and each hub's numbers are its own.
        let claimed = directory.claim(client.name, for: address(of: client, in: slot))
        precondition(claimed, "\(client.name) is already in the relay directory: two hubs hand out the same numbers")
        clients[slot] = client
        clientCount += 1
        var actions = ServiceActions()
        if options.welcome {
            actions.append(.send(bytes: fitting(RelayFormat.writeWelcome(client.name, into: &writer)), to: .one(slot: slot)))
        }
        if options.notices {
            let start = beginShared(into: &writer)
            let joined = fitting(RelayFormat.writeJoined(client.name, into: &writer))
            appendShared(joined, from: start, to: .allExcept(slot: slot), into: &actions)
        }
        // Default names are unique without asking; they are in Redis for /msg and /who.
        if options.node != nil { actions.append(.cluster(.claim(claim(of: client, in: slot)))) }
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
            let start = beginShared(into: &writer)
            let chat = fitting(RelayFormat.writeChat(from: name, text: text, into: &writer))
            appendShared(chat, from: start, to: .allExcept(slot: slot), into: &actions)
        }
        return actions
    }

    /// The connection in `slot` is gone. Nothing happens if the slot is already free (the client
    /// sent `/quit`), so the server can always call this when it closes a connection.
    public mutating func closed(_ slot: Int, into writer: inout ByteWriter) -> ServiceActions {
        var actions = ServiceActions()
        guard let client = clients[slot] else { return actions }
        let name = client.name
        directory.release(name)
        // A name still waiting for Redis stays in the directory until the answer comes, which
        // then lets go of it in both places (`clusterAnswered`).
        clients[slot] = nil
        clientCount -= 1
        if options.notices {
            let start = beginShared(into: &writer)
            let left = fitting(RelayFormat.writeLeft(name, into: &writer))
            appendShared(left, from: start, to: .allExcept(slot: slot), into: &actions)
        }
        if options.node != nil { actions.append(.cluster(.release(claim(of: client, in: slot)))) }
        return actions
    }

    private mutating func command(
        _ text: UnsafeRawBufferPointer, from slot: Int, name: RelayName, into writer: inout ByteWriter
    ) -> ServiceActions {
        let commandEnd = text.firstIndex(of: UInt8(ascii: " ")) ?? text.count
        let command = UnsafeRawBufferPointer(rebasing: text[0..<commandEnd])
        let arguments = UnsafeRawBufferPointer(rebasing: text[skippingSpaces(in: text, from: commandEnd)...])
        var actions = ServiceActions()
        if command.elementsEqual("/msg".utf8) {
            actions.append(message(arguments, from: slot, name: name, into: &writer))
        } else if command.elementsEqual("/who".utf8), options.node != nil {
            actions.append(.cluster(.listNames(for: claim(of: clients[slot]!, in: slot))))
        } else if command.elementsEqual("/who".utf8) {
            let who = RelayFormat.writeWho(listing: directory, into: &writer)
            actions.append(.send(bytes: fitting(who), to: .one(slot: slot)))
        } else if command.elementsEqual("/quit".utf8) {
            actions.append(contentsOf: closed(slot, into: &writer))
            actions.append(.closeAfterOutput(slot: slot))
        } else if command.elementsEqual("/nick".utf8) {
            actions.append(rename(slot, from: name, to: arguments, into: &writer))
        } else {
            actions.append(reply(.unknownCommand, to: slot, into: &writer))
        }
        return actions
    }

    /// `/msg NAME text`: the text to NAME alone, wherever the directory says it is.
    private func message(
        _ arguments: UnsafeRawBufferPointer, from slot: Int, name: RelayName, into writer: inout ByteWriter
    ) -> ServiceAction {
        let nameEnd = arguments.firstIndex(of: UInt8(ascii: " ")) ?? arguments.count
        let textStart = skippingSpaces(in: arguments, from: nameEnd)
        guard nameEnd > 0, textStart < arguments.count else { return reply(.messageUsage, to: slot, into: &writer) }
        guard let target = try? RelayName(naming: UnsafeRawBufferPointer(rebasing: arguments[0..<nameEnd])) else {
            return reply(.invalidName, to: slot, into: &writer)
        }
        guard let address = directory.find(target) else {
            if options.node != nil { return messageThroughCluster(arguments, textStart, to: target, from: slot, into: &writer) }
            return reply(.noSuchClient(target), to: slot, into: &writer)
        }
        let text = UnsafeRawBufferPointer(rebasing: arguments[textStart...])
        let recipient: Recipients = address.worker == options.worker ? .one(slot: address.slot) : .client(address)
        return .send(bytes: fitting(RelayFormat.writePrivate(from: name, text: text, into: &writer)), to: recipient)
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
        let client = clients[slot]!
        if client.pendingName != nil { return reply(.renameInProgress, to: slot, into: &writer) }
        guard directory.claim(new, for: address(of: client, in: slot)) else {
            return reply(.nameTaken(new), to: slot, into: &writer)
        }
        if options.node != nil {
            // Held here meanwhile, so no client of this host takes it; Redis says for the others.
            clients[slot]!.pendingName = new
            return .cluster(.claim(ClusterClaim(name: new, slot: slot, client: client.number)))
        }
        directory.release(old)
        clients[slot]!.name = new
        clients[slot]!.chosen = true
        let bytes = fitting(RelayFormat.writeRenamed(from: old, to: new, into: &writer))
        return .send(bytes: bytes, to: options.notices ? .everyone : .one(slot: slot))
    }

    func reply(_ error: RelayError, to slot: Int, into writer: inout ByteWriter) -> ServiceAction {
        .send(bytes: fitting(RelayFormat.writeError(error, into: &writer)), to: .one(slot: slot))
    }

    func address(of client: Client, in slot: Int) -> RelayAddress {
        RelayAddress(worker: options.worker, slot: slot, client: client.number)
    }

    /// The first index at or after `start` that is not a space.
    func skippingSpaces(in text: UnsafeRawBufferPointer, from start: Int) -> Int {
        var index = start
        while index < text.count && text[index] == UInt8(ascii: " ") { index += 1 }
        return index
    }

    /// The range a RelayFormat call wrote. The caller sized the writer with
    /// `maximumOutputCount`, so a line that does not fit is a bug in the caller.
    func fitting(_ written: Range<Int>?) -> Range<Int> {
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

extension RelayHub where Directory == LocalRelayDirectory {
    /// A hub whose names are its own affair.
    public init(capacity: Int, maxLine: Int = 4096, options: Options = Options()) {
        self.init(capacity: capacity, maxLine: maxLine, options: options, directory: LocalRelayDirectory())
    }
}
