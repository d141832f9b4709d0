// ControlServer: the running ringd's side of a hand-over (see ControlChannel.swift for the
// messages). It listens on server.control_socket, owner-only (0600), on a thread of its own, so
// that a slow or stuck peer never holds up the main thread's signals or a worker.
//
// One takeover at a time: while one runs, another connection is told `refused` and closed. A
// peer whose uid is neither ringd's nor root's is refused too (the 0600 file keeps such a
// process out, unless someone loosened it). The workers keep accepting until the new process says
// `ready`; a peer that closes, fails or times out before that changes nothing here.
//
// On `ready`: the workers are told to hand over (the shared eventfd `handOverSignal`), the
// control socket is closed and its file removed (the new process may want the same path), the
// main thread is woken with SIGUSR2 to wait for the workers, and once every worker has stopped
// accepting, the peer is told `released`.

import CLinux
import RingdConfig
import RingdSystem
import Synchronization
import URing

#if canImport(Glibc)
    import Glibc
#endif

final class ControlServer: @unchecked Sendable {
    // @unchecked: built on the main thread, then used by the control thread alone until the main
    // thread joins it; `handedOver` and `keptGroups` are read by the main thread only after that.
    private let listener: Int32
    private let file: UnixSocketFile
    /// Written by the main thread to stop the control thread.
    private let stopSignal: Int32
    private var thread: JoinableThread?
    private var isClosed = false
    private var listenerOpen = true
    /// A takeover reached `ready`: the workers were told to hand over.
    let handedOver = Atomic<Bool>(false)
    /// Which listen addresses the new process kept (their Unix socket files are now its own).
    private(set) var keptGroups: [Bool] = []

    /// Whether the process that took over kept listen address `index` (after `stop()`).
    func kept(_ index: Int) -> Bool { keptGroups.indices.contains(index) && keptGroups[index] }

    /// How long a peer may take between two messages (a new process starting its workers).
    static let peerTimeout: Duration = .seconds(60)

    /// Binds the control socket at `path`, replacing a stale one.
    init(path: String) throws(SystemError) {
        (listener, file) = try ListenerFactory.listenUnix(
            at: path, type: SOCK_SEQPACKET, backlog: 8, mode: FileMode(bits: 0o600)!, text: "control socket \(path)",
            modeKey: "the control socket's mode")
        stopSignal = ringd_eventfd()
        if stopSignal < 0 {
            let code = errno
            _ = Glibc.close(listener)
            file.removeIfStillOurs()
            throw SystemError("eventfd", errno: code)
        }
    }

    deinit { precondition(isClosed, "ControlServer dropped without stop()") }

    /// Starts serving takeovers of `listeners` on a thread of its own.
    func start(listeners: [ListenerGroup], workers: WorkerGroup, mainThread: pthread_t, log: ServerLog) {
        let context = HandOverContext(
            groups: listeners.map { $0.sockets.map(\.descriptor) }, workers: workers, mainThread: mainThread, log: log)
        keptGroups = Array(repeating: false, count: listeners.count)
        do {
            thread = try JoinableThread { [self] in serve(context) }
        } catch {
            log.write(.error, "control socket \(file.path): no thread to serve it: \(errnoName(error.errno))")
        }
    }

    /// Ends the control thread (an unfinished takeover is abandoned) and closes the socket.
    func stop() {
        guard !isClosed else { return }
        var one: UInt64 = 1
        _ = write(stopSignal, &one, MemoryLayout<UInt64>.size)
        thread?.join()
        thread = nil
        closeListener()
        _ = Glibc.close(stopSignal)
        isClosed = true
    }

    private func closeListener() {
        guard listenerOpen else { return }
        listenerOpen = false
        _ = Glibc.close(listener)
        file.removeIfStillOurs()
    }

    // MARK: - The control thread

    private struct HandOverContext {
        let groups: [[Int32]]
        let workers: WorkerGroup
        let mainThread: pthread_t
        let log: ServerLog
    }

    private func serve(_ context: HandOverContext) {
        var entries = [
            pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: stopSignal, events: Int16(POLLIN), revents: 0),
        ]
        while !handedOver.load(ordering: .relaxed) {
            entries[0].revents = 0
            entries[1].revents = 0
            let ready = poll(&entries, 2, -1)
            if ready < 0 && errno == EINTR { continue }
            if ready < 0 || entries[1].revents != 0 { return }
            guard let peer = acceptPeer() else { continue }
            takeOver(by: peer, context)
        }
    }

    private func acceptPeer() -> ControlConnection? {
        let descriptor = accept(listener, nil, nil)
        guard descriptor >= 0 else { return nil }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)  // as every descriptor ringd holds
        return ControlConnection(descriptor: descriptor)
    }

    /// One takeover, from `takeover 1` to `released`, or abandoned on the way.
    private func takeOver(by peer: ControlConnection, _ context: HandOverContext) {
        let log = context.log
        let credentials = peer.peer ?? (pid: 0, uid: UInt32.max)
        let who = "pid \(credentials.pid)"
        if credentials.uid != geteuid() && credentials.uid != 0 {
            log.write(.warning, "hand-over: refused \(who): its uid \(credentials.uid) is not ringd's uid \(geteuid())")
            refuse(peer, "uid \(credentials.uid) is not the uid of the running ringd (\(geteuid()))")
            return
        }
        do throws(HandOverAbandoned) {
            try expect(HandOverMessage.request, from: peer)
            let descriptors = context.groups.flatMap { $0 }
            do throws(SystemError) { try peer.sendSockets(descriptors) } catch { throw HandOverAbandoned("\(error)") }
            log.write(.notice, "hand-over: sent \(descriptors.count) listening sockets to \(who); serving until it is ready")
            let ready = try expect(HandOverMessage.ready, from: peer)
            let kept = Set(ready.split(separator: ",").compactMap { Int($0) })
            commit(kept: kept, context)
            do throws(SystemError) { try peer.send(HandOverMessage.released) } catch {
                log.write(
                    .warning,
                    "hand-over: \(who) did not hear `released` (\(error)); it may exit, this ringd stops accepting anyway")
            }
            log.write(
                .notice,
                "hand-over: \(who) accepts on \(kept.count) of \(descriptors.count) listening sockets; stopped accepting, serving the open connections until they close or server.drain_timeout"
            )
        } catch {
            log.write(.warning, "hand-over to \(who) abandoned: \(error.reason); still serving")
        }
    }

    /// Tells `peer` why not. Its request is read first: a Unix socket closed with a message
    /// unread resets the connection, and the peer would read ECONNRESET instead of the reason.
    private func refuse(_ peer: ControlConnection, _ reason: String) {
        if let request = try? peer.receive(within: .seconds(1)) { request.descriptors.forEach { _ = Glibc.close($0) } }
        try? peer.send("\(HandOverMessage.refused) \(reason)")
    }

    /// Marks what the new process kept, tells the workers to hand over, frees the control path
    /// for the new process, and wakes the main thread.
    private func commit(kept: Set<Int>, _ context: HandOverContext) {
        var index = 0
        for (group, descriptors) in context.groups.enumerated() {
            keptGroups[group] = descriptors.indices.contains { kept.contains(index + $0) }
            index += descriptors.count
        }
        handedOver.store(true, ordering: .releasing)
        var one: UInt64 = 1
        _ = write(context.workers.handOverSignal, &one, MemoryLayout<UInt64>.size)
        closeListener()
        pthread_kill(context.mainThread, SIGUSR2)
        // `released` waits until no worker here can take a connection any more (or 5 s, for a
        // worker that stopped meanwhile), so that the new process's accepts, armed again then,
        // find what was left for them (see EventLoop.rearmAccepts).
        let deadline = ContinuousClock.now + .seconds(5)
        while context.workers.workersHandedOver.load(ordering: .acquiring) < context.workers.workerCount
            && ContinuousClock.now < deadline
        {
            usleep(1000)
        }
    }

    /// Waits for a message that starts with `word` and returns what follows it; refuses any
    /// other peer meanwhile.
    @discardableResult
    private func expect(_ word: String, from peer: ControlConnection) throws(HandOverAbandoned) -> Substring {
        let message: ControlMessage
        do throws(ControlWaitEnd) {
            message = try receiveRefusingOthers(from: peer, until: ContinuousClock.now + Self.peerTimeout)
        } catch {
            switch error {
            case .closed: throw HandOverAbandoned("the new process closed the connection before `\(word)`")
            case .timedOut: throw HandOverAbandoned("no `\(word)` within \(Self.peerTimeout)")
            case .interrupted: throw HandOverAbandoned("ringd is stopping")
            case .failed(let failure): throw HandOverAbandoned("\(failure)")
            }
        }
        message.descriptors.forEach { _ = Glibc.close($0) }
        guard let argument = message.argument(after: word) else {
            throw HandOverAbandoned("expected `\(word)`, got \(message.text.debugDescription)")
        }
        return argument
    }

    /// The next message from `peer`; a second takeover that connects meanwhile is refused.
    private func receiveRefusingOthers(
        from peer: ControlConnection, until deadline: ContinuousClock.Instant
    ) throws(ControlWaitEnd)
        -> ControlMessage
    {
        while true {
            var entries = [
                pollfd(fd: peer.descriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
            ]
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw .timedOut }
            _ = poll(&entries, 2, Int32(clamping: min(left, .milliseconds(100)).clampedMilliseconds))
            if entries[1].revents != 0, let other = acceptPeer() {
                let pid = peer.peer?.pid ?? 0
                refuse(other, "a takeover by pid \(pid) is already in progress")
            }
            if entries[0].revents != 0 { return try peer.receive(within: .milliseconds(1), watching: stopSignal) }
            var stop = pollfd(fd: stopSignal, events: Int16(POLLIN), revents: 0)
            if poll(&stop, 1, 0) > 0 { throw .interrupted }
        }
    }
}

/// Why a takeover was given up, in words for the log.
struct HandOverAbandoned: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
