// The relay across hosts (`[cluster] redis`): every host's hub hears every other host's lines
// through one Redis channel, and names are unique across hosts through Redis keys.
//
// Lines. A line for everyone (chat, join, leave, rename) is rendered once, behind a short header
// that names this host (RelayWire), and that whole span is published on PREFIX:relay while the
// line alone goes to this host's clients (the engine posts it to the other workers, as without a
// cluster). Every worker of every host subscribes; a hub drops what its own host published (its
// clients already have it) and sends the rest to the clients of its own worker. A sender's
// lines keep their order: one worker's connection publishes them in order, and Redis delivers
// in order on each subscriber's connection. The per-line path asks nothing of Redis but the
// PUBLISH, and the hub neither locks nor allocates for it. (One channel for all, rather than one
// per host: a host gets its own lines back and drops them, one wasted delivery per worker, but
// no host needs to know which others exist, and a new one is heard from its first line.)
//
// Names. A default name, `client<N>@<node>`, is unique without asking anyone (nodes are unique,
// and names of that form cannot be chosen), so relay goes on while Redis is down; it is still
// written to Redis, for /msg and /who. A chosen name is claimed: the engine runs a script that
// sets PREFIX:name:NAME with an expiry unless another host holds it, and refreshes it while the
// hub lists it in `forEachClaim`. `/nick` waits for that answer (the name is held in the
// process's directory meanwhile); the notice or `error: the name NAME is taken` comes with it. A
// name found taken when the engine refreshes it or claims it again after a reconnect is lost:
// its holder is renamed to its default name, with the usual notice. Answers carry the client's
// number, so one that comes after its client left is recognised: a name claimed for nobody is
// let go again.
//
// /msg to a name not on this host asks Redis to publish the private line if some host holds the
// name (one script: no round trip, no line held here while waiting); the hub of the worker that
// holds the target sends it. It travels on the sender's worker's connection like its chat lines,
// so the target gets both in the order they were sent. /who asks Redis for the names online
// everywhere.

extension RelayHub {
    /// Where a line that also goes to other hosts starts: its wire header, with a cluster.
    func beginShared(into writer: inout ByteWriter) -> Int {
        let start = writer.count
        if let node = options.node { RelayWire.writeHeader(from: node, into: &writer) }
        return start
    }

    /// The line to `recipients` here and, with a cluster, header and line to the other hosts.
    func appendShared(_ line: Range<Int>, from start: Int, to recipients: Recipients, into actions: inout ServiceActions) {
        actions.append(.send(bytes: line, to: recipients))
        if options.node != nil { actions.append(.publish(bytes: start..<line.upperBound)) }
    }

    func claim(of client: Client, in slot: Int) -> ClusterClaim {
        ClusterClaim(name: client.name, slot: slot, client: client.number)
    }

    /// `/msg` to a name nobody on this host holds: rendered with its target in the header, for
    /// the host that holds it; `arguments[textStart...]` is the text.
    func messageThroughCluster(
        _ arguments: UnsafeRawBufferPointer, _ textStart: Int, to target: RelayName, from slot: Int, into writer: inout ByteWriter
    ) -> ServiceAction {
        let sender = clients[slot]!
        let start = writer.count
        RelayWire.writeHeader(from: options.node!, to: target, into: &writer)
        let text = UnsafeRawBufferPointer(rebasing: arguments[textStart...])
        let line = fitting(RelayFormat.writePrivate(from: sender.name, text: text, into: &writer))
        return .cluster(.sendPrivate(from: claim(of: sender, in: slot), target: target, bytes: start..<line.upperBound))
    }

    /// Every client's current name from `slot` on, for the engine to refresh in Redis.
    public func forEachClaim(from slot: Int, _ body: (ClusterClaim) -> Bool) -> Int? {
        guard options.node != nil else { return nil }
        for slot in slot..<clients.count {
            if let client = clients[slot], !body(claim(of: client, in: slot)) { return slot }
        }
        return nil
    }

    /// A message on PREFIX:relay: another host's line, for this worker's clients.
    public mutating func upstream(
        _ message: UnsafeRawBufferPointer, context: ServiceContext, into writer: inout ByteWriter
    ) -> ServiceActions {
        guard let node = options.node, let wire = RelayWire(parsing: message), !wire.isFrom(node) else { return ServiceActions() }
        let recipients: Recipients
        if let target = wire.target {
            guard let address = directory.find(target), address.worker == options.worker,
                clients[address.slot]?.number == address.client
            else { return ServiceActions() }
            recipients = .one(slot: address.slot)
        } else {
            guard clientCount > 0 else { return ServiceActions() }
            recipients = .everyone
        }
        let start = writer.count
        writer.write(wire.line)
        guard writer.commit(since: start) else { return ServiceActions() }
        return ServiceActions(.send(bytes: start..<writer.count, to: recipients))
    }

    /// Redis's answer to a request, or a lost name; see the file comment.
    public mutating func clusterAnswered(
        _ answer: ClusterAnswer, context: ServiceContext, into writer: inout ByteWriter
    ) -> ServiceActions {
        switch answer {
        case .claimed(let claim, let granted):
            return claimAnswered(claim, granted: granted, into: &writer)
        case .lost(let claim):
            guard let client = client(of: claim), client.chosen, client.name == claim.name else { return ServiceActions() }
            return renameToDefault(claim.slot, into: &writer)
        case .privateSent(let sender, let target, let delivered):
            guard !delivered, self.client(of: sender) != nil else { return ServiceActions() }
            return ServiceActions(reply(.noSuchClient(target), to: sender.slot, into: &writer))
        case .names(let asker, let total, let listed):
            guard self.client(of: asker) != nil else { return ServiceActions() }
            let line = fitting(RelayFormat.writeWho(listed: listed, total: total, into: &writer))
            return ServiceActions(.send(bytes: line, to: .one(slot: asker.slot)))
        case .failed(let request):
            return requestFailed(request, into: &writer)
        }
    }

    /// The client `claim` names, if it is still connected.
    private func client(of claim: ClusterClaim) -> Client? {
        guard clients.indices.contains(claim.slot), let client = clients[claim.slot], client.number == claim.client else {
            return nil
        }
        return client
    }

    private mutating func claimAnswered(_ claim: ClusterClaim, granted: Bool, into writer: inout ByteWriter) -> ServiceActions {
        guard let client = client(of: claim), client.pendingName == claim.name else {
            // A default name registered, or a /nick whose client left: its name is let go.
            guard !claim.name.isReserved else { return ServiceActions() }
            if directory.find(claim.name)?.client == claim.client { directory.release(claim.name) }
            return granted ? ServiceActions(.cluster(.release(claim))) : ServiceActions()
        }
        clients[claim.slot]!.pendingName = nil
        guard granted else {
            directory.release(claim.name)
            return ServiceActions(reply(.nameTaken(claim.name), to: claim.slot, into: &writer))
        }
        var actions = ServiceActions()
        let old = client.name
        directory.release(old)
        clients[claim.slot]!.name = claim.name
        clients[claim.slot]!.chosen = true
        appendRenamed(claim.slot, from: old, to: claim.name, into: &writer, &actions)
        // The old name, chosen or default, is nobody's in Redis either (last: see carryOut).
        actions.append(.cluster(.release(ClusterClaim(name: old, slot: claim.slot, client: claim.client))))
        return actions
    }

    /// A chosen name another host took while this one could not refresh it: the client is its
    /// default name again, which is free (nobody can choose it) and registered in Redis anew.
    private mutating func renameToDefault(_ slot: Int, into writer: inout ByteWriter) -> ServiceActions {
        let client = clients[slot]!
        let name = RelayName.numbered(client.number, node: options.node)
        directory.release(client.name)
        let claimed = directory.claim(name, for: address(of: client, in: slot))
        precondition(claimed, "\(name), a default name, is held by another client")
        clients[slot]!.name = name
        clients[slot]!.chosen = false
        var actions = ServiceActions()
        appendRenamed(slot, from: client.name, to: name, into: &writer, &actions)
        actions.append(.cluster(.claim(self.claim(of: clients[slot]!, in: slot))))
        return actions
    }

    /// `* OLD is now NEW` to everyone on every host, or to the client alone without notices.
    private func appendRenamed(
        _ slot: Int, from old: RelayName, to new: RelayName, into writer: inout ByteWriter, _ actions: inout ServiceActions
    ) {
        let start = beginShared(into: &writer)
        let renamed = fitting(RelayFormat.writeRenamed(from: old, to: new, into: &writer))
        if options.notices {
            appendShared(renamed, from: start, to: .everyone, into: &actions)
        } else {
            actions.append(.send(bytes: renamed, to: .one(slot: slot)))
        }
    }

    private mutating func requestFailed(_ request: ClusterRequest, into writer: inout ByteWriter) -> ServiceActions {
        switch request {
        case .claim(let claim):
            // A name already held is claimed again after the reconnect; a /nick is refused.
            guard client(of: claim)?.pendingName == claim.name else {
                return claimAnswered(claim, granted: false, into: &writer)
            }
            clients[claim.slot]!.pendingName = nil
            directory.release(claim.name)
            return ServiceActions(reply(.clusterUnavailable, to: claim.slot, into: &writer))
        case .release:
            return ServiceActions()
        case .sendPrivate(let sender, _, _):
            guard client(of: sender) != nil else { return ServiceActions() }
            return ServiceActions(reply(.clusterUnavailable, to: sender.slot, into: &writer))
        case .listNames(let asker):
            // The names of this host, which is what can be known without Redis.
            guard client(of: asker) != nil else { return ServiceActions() }
            let who = fitting(RelayFormat.writeWho(listing: directory, into: &writer))
            return ServiceActions(.send(bytes: who, to: .one(slot: asker.slot)))
        }
    }
}

/// What a hub publishes on PREFIX:relay: a kind byte, the node that sent it, for a private line
/// its target, then the line as the clients get it, ending in "\n":
///
///     Eweb-1 alice: hello everyone\n
///     Pweb-1 bob alice (private): hello bob\n
///
/// Node and target names have no spaces, so a space ends each.
public struct RelayWire {
    /// The sender's node.
    public let node: UnsafeRawBufferPointer
    /// For a private line, the client it is for.
    public let target: RelayName?
    public let line: UnsafeRawBufferPointer

    /// The parts of `message`, or nil when it is not a relay line (nothing ringd sent).
    public init?(parsing message: UnsafeRawBufferPointer) {
        guard let kind = message.first, kind == UInt8(ascii: "E") || kind == UInt8(ascii: "P"),
            let nodeEnd = message.firstIndex(of: UInt8(ascii: " ")), nodeEnd > 1
        else { return nil }
        node = UnsafeRawBufferPointer(rebasing: message[1..<nodeEnd])
        var lineStart = nodeEnd + 1
        if kind == UInt8(ascii: "P") {
            let rest = message[lineStart...]
            guard let targetEnd = rest.firstIndex(of: UInt8(ascii: " ")),
                let target = try? RelayName(naming: UnsafeRawBufferPointer(rebasing: message[lineStart..<targetEnd]))
            else { return nil }
            self.target = target
            lineStart = targetEnd + 1
        } else {
            target = nil
        }
        // One line, as a hub renders it: a message with a line feed inside (nothing ringd
        // published) would smuggle lines no client sent.
        guard lineStart < message.count, message[lineStart...].firstIndex(of: UInt8(ascii: "\n")) == message.count - 1
        else { return nil }
        line = UnsafeRawBufferPointer(rebasing: message[lineStart...])
    }

    /// Whether `node` sent it.
    public func isFrom(_ node: RelayName) -> Bool {
        node.withBytes { $0.elementsEqual(self.node) }
    }

    /// `E<node> `, or `P<node> <target> ` for a private line.
    public static func writeHeader(from node: RelayName, to target: RelayName? = nil, into writer: inout ByteWriter) {
        writer.write(UInt8(ascii: target == nil ? "E" : "P"))
        node.write(to: &writer)
        writer.write(UInt8(ascii: " "))
        if let target {
            target.write(to: &writer)
            writer.write(UInt8(ascii: " "))
        }
    }

    /// The most bytes a header takes.
    public static let maximumHeaderCount = 1 + RelayName.maximumNodeCount + 1 + RelayName.maximumCount + 1
}
