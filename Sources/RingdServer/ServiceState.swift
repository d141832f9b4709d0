// ServiceState: what one worker keeps for the service it runs, beside the connection table.
//
// Only what the configured service needs is allocated: line framers and line counters per slot
// for the line modes, the peer per slot for the access log, the relay hub, the broadcast state.
// Per-slot tables have the connection table's fixed capacity; a slot's entries are initialized
// when a connection opens and deinitialized when it is released, except the line framers: one is
// made when its slot is first used and lives as long as the worker, reset on release, so that the
// buffer it keeps for partial lines serves the slot's next connection without an allocation.

import RingdConfig
import RingdServices
#if canImport(Glibc)
import Glibc
#endif

final class ServiceState {
    let capacity: Int
    /// Client addresses need a getpeername(2) per connection: for the access lists, `{peer}`
    /// and the access log.
    var needsPeer: Bool
    /// Nil when both lists are empty, which admits everyone without asking.
    var access: AccessList? = nil
    /// The longest line accepted, in the line modes.
    let maxLine: Int

    // Line modes.
    /// Initialized up to `framersMade`: the connection table hands out fresh slots in order, so
    /// the memory touched is that of the slots ever used, not `capacity`.
    let framers: UnsafeMutablePointer<LineFramer>?
    private(set) var framersMade = 0
    let echoLines: UnsafeMutablePointer<EchoLines>?
    let peers: UnsafeMutablePointer<Peer>?
    let accessLog: AccessLog?

    // Greet and counter.
    var message: MessageTemplate? = nil
    /// The message rendered once at start-up when it has no placeholders: sent as is, with no
    /// output chunk and no completion per connection.
    var fixedMessage: UnsafeMutableRawBufferPointer? = nil
    /// `server.busy_message`, rendered once.
    var busyMessage: UnsafeMutableRawBufferPointer? = nil
    /// Messages replaced by a reload, freed when the worker stops.
    private var retiredMessages: [UnsafeMutableRawBufferPointer] = []

    // Broadcast.
    var broadcast: Broadcast?
    var broadcastInterval: Duration? = nil

    /// Echo replies are numbered `N: `.
    let echoNumbering: Bool

    // Relay.
    var relay: RelayHub<SharedRelayNames>?
    let relayed: RelayedChunks?
    /// Spans waiting to be posted to each other worker at the end of the iteration.
    let pendingPosts: UnsafeMutablePointer<OutputSpan?>?

    /// Sets up what stays for the worker's life, then takes the reloadable rest from
    /// `reconfigure`, the same path a SIGHUP takes.
    init(configuration: Configuration, service: Service, worker: Int, group: WorkerGroup) {
        capacity = configuration.server.maxConnections
        maxLine = service == .relay ? configuration.relay.maxLine : configuration.echo.maxLine
        echoNumbering = configuration.echo.lineNumbers
        let accessLogging = service == .echoLines && configuration.echo.accessLog
        framers = service.framesLines ? .allocate(capacity: capacity) : nil
        echoLines = service == .echoLines ? .allocate(capacity: capacity) : nil
        peers = accessLogging ? .allocate(capacity: capacity) : nil
        accessLog = accessLogging ? AccessLog() : nil
        broadcast = service == .broadcast ? Broadcast() : nil
        if service == .relay {
            relay = RelayHub(
                capacity: capacity,
                options: RelayOptions(firstClientNumber: UInt64(worker + 1), clientNumberStride: UInt64(group.workerCount)),
                claims: group.relayNames)
            relayed = group.workerCount > 1 ? RelayedChunks(totalChunks: group.workerCount * group.chunkCount) : nil
            pendingPosts = .allocate(capacity: group.workerCount)
            pendingPosts!.initialize(repeating: nil, count: group.workerCount)
        } else {
            relay = nil
            relayed = nil
            pendingPosts = nil
        }
        needsPeer = false
        reconfigure(configuration, service: service)
    }

    deinit {
        if let framers {
            framers.deinitialize(count: framersMade)
            framers.deallocate()
        }
        echoLines?.deallocate()
        peers?.deallocate()
        for message in retiredMessages + [fixedMessage, busyMessage].compactMap({ $0 }) {
            message.baseAddress?.deallocate()
        }
        pendingPosts?.deallocate()
    }
}

extension ServiceState {
    /// Makes `slot`'s line framer if the slot is used for the first time; a reused slot's
    /// framer was reset when its last connection closed.
    @inline(__always)
    func prepareFramer(forSlot slot: Int) {
        guard let framers else { return }
        while framersMade <= slot {
            (framers + framersMade).initialize(to: LineFramer(maxLine: maxLine))
            framersMade += 1
        }
    }

    /// Takes what a configuration may change without a restart, at start-up and on SIGHUP:
    /// messages, the access lists, the broadcast interval, relay notices. The service, the slot count and the line
    /// limits stay (the server refuses a reload that changes them).
    func reconfigure(_ configuration: Configuration, service: Service) {
        let accessList = configuration.access.list
        access = accessList.allow.isEmpty && accessList.deny.isEmpty ? nil : accessList
        switch service {
        case .greet: message = configuration.greet.message
        case .counter: message = configuration.counter.message
        default: break
        }
        // A send-and-close in flight may still read the old messages: they are kept until the
        // worker stops (a few bytes per reload).
        fixedMessage.map { retiredMessages.append($0) }
        fixedMessage = message.flatMap { $0.placeholders.isEmpty ? Self.renderOnce($0) : nil }
        busyMessage.map { retiredMessages.append($0) }
        busyMessage = configuration.server.busyMessage.flatMap(Self.renderOnce)
        if service == .broadcast {
            broadcast!.reconfigure(message: configuration.broadcast.message, greeting: configuration.broadcast.greeting)
            broadcastInterval = configuration.broadcast.interval
        }
        let peerInMessage = [message, broadcast?.greeting].contains { $0?.placeholders.contains(.peer) == true }
        needsPeer = access != nil || peers != nil || peerInMessage
        if service == .relay {
            relay!.options.notices = configuration.relay.notices
            relay!.options.welcome = configuration.relay.welcome
        }
    }

    /// A message without placeholders, rendered into memory of its own for the life of the worker.
    fileprivate static func renderOnce(_ message: MessageTemplate) -> UnsafeMutableRawBufferPointer {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, message.maximumRenderedCount), alignment: 8)
        var writer = ByteWriter(storage)
        _ = message.render(MessageTemplate.Values(), into: &writer)
        return UnsafeMutableRawBufferPointer(rebasing: storage[0..<writer.count])
    }
}

/// References a worker holds on chunks of other workers' arenas, which it received as relayed
/// lines. The owner counts one reference per posted span; this side counts the segments that
/// point into each chunk and the posts it has consumed, and sends the consumed count back when
/// its last segment into the chunk is gone.
final class RelayedChunks {
    private let segmentsInChunk: UnsafeMutablePointer<UInt32>
    private let postsConsumed: UnsafeMutablePointer<UInt32>

    init(totalChunks: Int) {
        segmentsInChunk = .allocate(capacity: totalChunks)
        segmentsInChunk.initialize(repeating: 0, count: totalChunks)
        postsConsumed = .allocate(capacity: totalChunks)
        postsConsumed.initialize(repeating: 0, count: totalChunks)
    }

    deinit {
        segmentsInChunk.deallocate()
        postsConsumed.deallocate()
    }

    @inline(__always)
    func retain(_ chunk: UInt32) { segmentsInChunk[Int(chunk)] += 1 }

    /// Drops one segment's reference; true when the chunk can be handed back now.
    @inline(__always)
    func release(_ chunk: UInt32) -> Bool {
        segmentsInChunk[Int(chunk)] -= 1
        return segmentsInChunk[Int(chunk)] == 0 && postsConsumed[Int(chunk)] > 0
    }

    /// A post into `chunk` was fanned out; true when no segment holds the chunk, so it can be
    /// handed back now.
    @inline(__always)
    func consumed(_ chunk: UInt32) -> Bool {
        postsConsumed[Int(chunk)] += 1
        return segmentsInChunk[Int(chunk)] == 0
    }

    /// The consumed posts to hand back, and zero from now on.
    @inline(__always)
    func takeConsumed(_ chunk: UInt32) -> UInt32 {
        defer { postsConsumed[Int(chunk)] = 0 }
        return postsConsumed[Int(chunk)]
    }
}

/// The echo access log, `[HOST PORT] line` per line, as the Perl server prints it. Lines are
/// gathered per loop iteration and written to standard output with one write(2).
final class AccessLog {
    private let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 8)
    private var count = 0

    deinit { storage.deallocate() }

    func log(peer: Peer, line: Line) {
        let needed = 1 + Peer.maximumTextCount + 2 + line.content.count + 1
        if storage.count - count < needed { flush() }
        if storage.count < needed {
            // Longer than the buffer: write it on its own.
            let large = UnsafeMutableRawBufferPointer.allocate(byteCount: needed, alignment: 8)
            defer { large.deallocate() }
            var writer = ByteWriter(large)
            EchoLines.writeAccessLog(peer: peer, line: line, into: &writer)
            writeAll(STDOUT_FILENO, writer.written)
            return
        }
        var writer = ByteWriter(UnsafeMutableRawBufferPointer(rebasing: storage[count...]))
        EchoLines.writeAccessLog(peer: peer, line: line, into: &writer)
        count += writer.count
    }

    func flush() {
        guard count > 0 else { return }
        writeAll(STDOUT_FILENO, UnsafeRawBufferPointer(rebasing: storage[0..<count]))
        count = 0
    }

}

extension Peer {
    /// Stands in where the address is not needed.
    static let unknown = Peer(address: IPAddress(ipv4: 0), port: 0)

    /// The remote address of a connected socket, from getpeername(2); nil if it is gone.
    init?(ofSocket descriptor: Int32) {
        guard let address = try? SocketAddress(peerOf: descriptor) else { return nil }
        self.init(address)
    }

    init?(_ address: SocketAddress) {
        let ip: IPAddress? = address.withSockaddr { pointer, _ in
            switch address.family {
            case AF_INET:
                let ipv4 = UnsafeRawPointer(pointer).load(as: sockaddr_in.self)
                return IPAddress(ipv4: UInt32(bigEndian: ipv4.sin_addr.s_addr))
            case AF_INET6:
                var ipv6 = UnsafeRawPointer(pointer).load(as: sockaddr_in6.self).sin6_addr
                return withUnsafeBytes(of: &ipv6) { IPAddress(bytes: $0) }
            default:
                return nil
            }
        }
        guard let ip else { return nil }
        self.init(address: ip, port: address.port)
    }
}
