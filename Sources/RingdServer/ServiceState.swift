// ServiceState: what one worker keeps beside the connection table for whatever service it runs:
// the access lists, the busy message, a line framer per slot for `.lines` services, the peers
// for the access log, and the references to other workers' output that posted lines hold.
//
// Per-slot tables have the connection table's fixed capacity. A slot's line framer is made when
// the slot is first used and lives as long as the worker, reset on release, so that the buffer
// it keeps for partial lines serves the slot's next connection without an allocation.

import RingdConfig
import RingdServices
import RingdSystem

#if canImport(Glibc)
    import Glibc
#endif

final class ServiceState {
    let capacity: Int
    /// Client addresses need a getpeername(2) per connection: for the access lists, the
    /// service (`{peer}`) and the access log.
    private(set) var needsPeer = false
    /// Nil when both lists are empty, which admits everyone without asking.
    private(set) var access: AccessList? = nil
    /// `server.busy_message`, rendered once; replaced ones are kept while sends may read them.
    private(set) var busyMessage: RenderedMessage? = nil
    private var retiredBusyMessages: [RenderedMessage] = []
    /// `cluster.unavailable_message`, rendered once (it has no placeholders); replaced ones kept
    /// as busy messages are.
    private(set) var unavailableMessage: RenderedMessage

    /// Initialized up to `framersMade`: the connection table hands out fresh slots in order, so
    /// the memory touched is that of the slots ever used, not `capacity`.
    private let framers: UnsafeMutablePointer<LineFramer>
    private var framersMade = 0
    /// The echo access log (`echo.access_log`) and the peer of each slot it names.
    let accessLog: AccessLog?
    private let peers: SlotTable<Peer>?
    /// References on other workers' chunks, and the spans waiting to be posted to each worker.
    let posts: PostedSpans

    init(configuration: Configuration, serviceNeedsPeer: Bool, worker: Int, group: WorkerGroup) {
        capacity = configuration.server.maxConnections
        framers = .allocate(capacity: capacity)
        unavailableMessage = RenderedMessage(configuration.cluster.unavailableMessage)!
        let accessLogging = configuration.server.mode == .echo && configuration.echo.accessLog
        accessLog = accessLogging ? AccessLog() : nil
        peers = accessLogging ? SlotTable(capacity: capacity) : nil
        posts = PostedSpans(
            workers: group.workerCount, totalChunks: group.workerCount > 1 ? group.workerCount * group.chunkCount : 0)
        reconfigure(configuration, serviceNeedsPeer: serviceNeedsPeer)
    }

    deinit {
        framers.deinitialize(count: framersMade)
        framers.deallocate()
    }

    /// Takes what a configuration may change without a restart, at start-up and on SIGHUP.
    func reconfigure(_ configuration: Configuration, serviceNeedsPeer: Bool) {
        let accessList = configuration.access.list
        access = accessList.allow.isEmpty && accessList.deny.isEmpty ? nil : accessList
        busyMessage.map { retiredBusyMessages.append($0) }
        busyMessage = configuration.server.busyMessage.flatMap(RenderedMessage.init)
        retiredBusyMessages.append(unavailableMessage)
        unavailableMessage = RenderedMessage(configuration.cluster.unavailableMessage)!
        needsPeer = access != nil || peers != nil || serviceNeedsPeer
    }

    /// A connection opened in `slot`: its framer is made the first time the slot is used.
    @inline(__always)
    func open(slot: Int, peer: Peer, lineLength: Int, framesLines: Bool) {
        if framesLines {
            while framersMade <= slot {
                (framers + framersMade).initialize(to: LineFramer(maxLine: lineLength))
                framersMade += 1
            }
        }
        peers?[slot] = peer
    }

    /// The connection in `slot` is gone: its framer is reset for the slot's next one.
    @inline(__always)
    func release(slot: Int) {
        if slot < framersMade { framers[slot].reset() }
    }

    @inline(__always)
    func framer(ofSlot slot: Int) -> UnsafeMutablePointer<LineFramer> {
        precondition(slot < framersMade, "slot \(slot) has no line framer")
        return framers + slot
    }

    /// Writes `[HOST PORT] line` when the access log is on.
    @inline(__always)
    func logAccess(_ line: Line, slot: Int) {
        if let accessLog, let peers { accessLog.log(peer: peers[slot], line: line) }
    }
}

/// What a worker holds for lines that cross workers: the post waiting to go to each other
/// worker, and its references on chunks of other workers' arenas.
final class PostedSpans {
    /// The post waiting to go to each other worker at the end of the iteration.
    let pending: UnsafeMutablePointer<Post?>
    let relayed: RelayedChunks

    init(workers: Int, totalChunks: Int) {
        pending = .allocate(capacity: workers)
        pending.initialize(repeating: nil, count: workers)
        relayed = RelayedChunks(totalChunks: totalChunks)
    }

    deinit { pending.deallocate() }
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
        if address.family == AF_UNIX {
            self = .unix
            return
        }
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
