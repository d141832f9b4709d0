// Accepting: one multishot accept per listener. A new connection is checked against the access
// lists, then either answered and closed at once (a send-and-close service, or every slot
// taken) or given a slot, opened to the service, and read.

import RingdServices
import URing

#if canImport(Glibc)
    import Glibc
#endif

extension EventLoop {
    /// `slot` in greetClose user data when the message was a fixed one, not an arena chunk.
    static var fixedMessage: UInt32 { UserData.maximumSlot }

    func armAccept(_ listener: Int) {
        guard !draining && !handingOver else { return }
        ring.queueMultishotAccept(listener: listeners[listener].descriptor, userData: tag(.accept, slot: UInt32(listener)))
    }

    /// The old process of a hand-over has stopped accepting: cancel and arm every accept again.
    /// An accept armed on a listener shared with another process waits for a wake-up that the
    /// kernel gives to one waiter alone (io_uring polls for accept with EPOLLEXCLUSIVE); when
    /// the old process's waiter took it and was then cancelled, the connection it announced
    /// waits in the queue with nobody woken for it. An accept armed anew tries at once, and
    /// takes it. (The cancel goes first in the same submission, and its target's -ECANCELED
    /// completion re-arms nothing.)
    func rearmAccepts() {
        guard !draining && !handingOver else { return }
        for listener in listeners.indices where acceptPausedListeners & (1 << listener) == 0 {
            ring.queueCancel(target: tag(.accept, slot: UInt32(listener)), userData: tag(.cancel))
            armAccept(listener)
        }
    }

    /// Re-arms an accept paused by EMFILE/ENFILE, once: from its timer or a close, whichever
    /// comes first (the other then finds nothing to do).
    func resumeAccept(_ listener: Int) {
        guard acceptPausedListeners & (1 << listener) != 0 else { return }
        acceptPausedListeners &= ~(1 << listener)
        armAccept(listener)
    }

    func handleAccept(_ completion: Completion) {
        let listener = Int(completion.userData.slot)
        if completion.result == -ECANCELED { return }  // stopped at shutdown
        if completion.result >= 0 {
            openConnection(descriptor: completion.result)
        } else if CompletionError(errno: -completion.result) == .resourceExhausted {
            pauseAcceptOutOfDescriptors(listener, completion)
            return
        } else {
            statistics.acceptFailures += 1
        }
        if !completion.hasMore { armAccept(listener) }
    }

    /// Out of descriptors: accepting again at once would fail at once. Wait, then retry; the
    /// pending connections stay in the listen backlog meanwhile. A closing connection frees a
    /// descriptor sooner than the timer: see finishCloseIfIdle.
    private func pauseAcceptOutOfDescriptors(_ listener: Int, _ completion: Completion) {
        statistics.acceptFailures += 1
        if let count = acceptFailureReport.count() {
            log.write(
                .warning,
                "accept failed \(count) time\(count == 1 ? "" : "s") with \(errnoName(-completion.result)) (out of descriptors); retrying in 100 ms or when a connection closes. Fix: raise `ulimit -n` or lower server.max_connections"
            )
        }
        if !completion.hasMore && acceptPausedListeners & (1 << listener) == 0 {
            acceptPausedListeners |= 1 << listener
            ring.queueTimeout(
                after: .milliseconds(100), storage: timeouts, index: listener,
                userData: tag(.acceptRetry, slot: UInt32(listener)))
        }
    }

    private func openConnection(descriptor: Int32) {
        guard !draining else {
            _ = close(descriptor)
            return
        }
        var peer = Peer.unknown
        if services.needsPeer {
            peer = Peer(ofSocket: descriptor) ?? .unknown
            // A Unix-socket client has no address: the socket file's permissions decide.
            if let access = services.access, !peer.isUnix, access.decide(peer.address) == .deny {
                // Refused at once, before any byte is read or written.
                statistics.refusedByAccessList += 1
                log.write(.debug, client: descriptor, "refused by access.allow / access.deny")
                ring.queueClose(descriptor: descriptor, userData: tag(.close), quiet: true)
                return
            }
        }
        if S.input == .none {
            statistics.accepted += 1
            sendGreetingAndClose(descriptor, peer: peer)
            return
        }
        guard let slot = table.open(descriptor: descriptor) else {
            statistics.refusedTableFull += 1
            log.write(
                .debug, client: descriptor, "refused: all \(table.capacity) connection slots (server.max_connections) are taken")
            refuseBusy(descriptor)
            return
        }
        statistics.accepted += 1
        log.write(.trace, client: descriptor, "connected")
        // TCP_NODELAY comes from the listener: accepted sockets inherit it, no syscall here.
        let connection = table[slot]
        connection.pointee.lastActivity = now
        if S.input != .echoed { openToService(slot, connection, peer: peer) }
        if connection.pointee.lifecycle == .open && !connection.pointee.receiveArmed { armReceive(slot, connection) }
    }

    // MARK: - Send and close

    /// Sends the service's greeting and closes, in one linked pair of SQEs. No slot is taken:
    /// the connection needs nothing after the close, and the close's completion says when the
    /// chunk the greeting was rendered into is free again.
    private func sendGreetingAndClose(_ descriptor: Int32, peer: Peer) {
        if let fixed = fixedGreeting {
            sendFixedAndClose(descriptor, fixed)
            return
        }
        if S.numbersGreetingsInCluster, let cluster {
            numberThroughCluster(cluster, descriptor, peer: peer)
            return
        }
        sendNumberedGreeting(descriptor, peer: peer, number: nil)
    }

    /// Renders the service's greeting into the arena and sends it, then closes. `number` is the
    /// cluster's, for a service that numbers greetings across hosts; nil renders `greeting`.
    func sendNumberedGreeting(_ descriptor: Int32, peer: Peer, number: UInt64?) {
        guard var writer = arena.writer(room: service.maximumOutputCount) else {
            statistics.outputExhausted += 1
            ring.queueClose(descriptor: descriptor, userData: tag(.close), quiet: true)
            return
        }
        greetingsInFlight += 1
        let context = ServiceContext(time: .now, clients: greetingsInFlight, connections: table.openCount)
        let rendered =
            if let number {
                service.greeting(number: number, peer: peer, context: context, into: &writer)
            } else {
                service.greeting(peer: peer, context: context, into: &writer)
            }
        guard rendered else {
            greetingsInFlight -= 1
            ring.queueClose(descriptor: descriptor, userData: tag(.close), quiet: true)
            return
        }
        let span = arena.keep(writer.count)
        let chunk = span.chunk % UInt32(arena.chunkCount)
        arena.retain(chunk)
        ring.queueSendThenClose(
            socket: descriptor, bytes: group.bytes(of: span), length: Int(span.length),
            sendUserData: tag(.greetSend), closeUserData: greetCloseTag(chunk, descriptor), quietClose: false)
    }

    @inline(__always)
    private func greetCloseTag(_ chunk: UInt32, _ descriptor: Int32) -> UserData {
        tag(.greetClose, slot: chunk, generation: UInt32(bitPattern: descriptor))
    }

    /// Every slot is taken: the client gets `server.busy_message`, if there is one, and a close.
    private func refuseBusy(_ descriptor: Int32) {
        guard let busy = services.busyMessage?.bytes else {
            ring.queueClose(descriptor: descriptor, userData: tag(.close), quiet: true)
            return
        }
        sendFixedAndClose(descriptor, busy)
    }

    /// Sends bytes that outlive the send (a fixed greeting, the busy or unavailable message),
    /// then closes.
    func sendFixedAndClose(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) {
        ring.queueSendThenClose(
            socket: descriptor, bytes: bytes.baseAddress!, length: bytes.count,
            sendUserData: tag(.greetSend), closeUserData: greetCloseTag(Self.fixedMessage, descriptor), quietClose: true)
    }

    func handleGreetClose(_ completion: Completion) {
        if completion.result == -ECANCELED {
            // The send failed (the peer left), which cancelled the linked close.
            _ = close(Int32(bitPattern: completion.userData.generation))
        } else if completion.result < 0 {
            statistics.failedCloses += 1
        }
        if completion.userData.slot != Self.fixedMessage {
            arena.release(completion.userData.slot, count: 1)
            greetingsInFlight -= 1
        }
    }
}
