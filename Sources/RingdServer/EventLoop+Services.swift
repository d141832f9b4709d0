// The services on top of the engine: what happens when a connection opens, when its input
// arrives, and on the broadcast timer. The service logic itself (framing, numbering, templates,
// the relay protocol) is RingdServices' pure code; this file feeds it bytes and carries out the
// output it renders into the arena.

import RingdServices
import Synchronization
import URing
#if canImport(Glibc)
import Glibc
#endif

extension EventLoop {
    /// `slot` in greetClose user data when the message was the fixed one, not an arena chunk.
    static let fixedMessage = UserData.maximumSlot

    // MARK: - Opening and closing

    func startService(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>, peer: Peer) {
        services.prepareFramer(forSlot: Int(slot))
        if let echoLines = services.echoLines {
            (echoLines + Int(slot)).initialize(to: EchoLines(numbering: services.echoNumbering))
        }
        if let peers = services.peers { (peers + Int(slot)).initialize(to: peer) }
        if service.pushes { group.clients.add(1, ordering: .relaxed) }
        switch service {
        case .broadcast:
            sendBroadcastGreeting(slot, connection, peer: peer)
        case .relay:
            relayConnect(slot, connection)
        default:
            break
        }
    }

    /// Releases the slot's service state; the connection is gone.
    func stopService(_ slot: UInt32) {
        services.framers?[Int(slot)].reset()
        if let echoLines = services.echoLines { (echoLines + Int(slot)).deinitialize(count: 1) }
        if let peers = services.peers { (peers + Int(slot)).deinitialize(count: 1) }
        if service.pushes { group.clients.subtract(1, ordering: .relaxed) }
    }

    // MARK: - Input

    /// Input for an open connection, from a receive buffer that is recycled afterwards.
    func consume(_ input: UnsafeRawBufferPointer, _ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        switch service {
        case .echoLines, .relay:
            frameLines(input, slot, connection)
        case .broadcast:
            break  // subscribers' input is read and dropped, so it never piles up
        case .rawEcho, .greet, .counter:
            break
        }
    }

    /// Cuts `input` into lines and hands each to the service, until the connection is on its way
    /// out (a `/quit`, a line too long, a cut).
    private func frameLines(_ input: UnsafeRawBufferPointer, _ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        let framer = services.framers! + Int(slot)
        var position = 0
        while connection.pointee.state == .open && !connection.pointee.closeAfterOutput && !connection.pointee.cutPending,
              let event = framer.pointee.next(in: input, position: &position) {
            switch event {
            case .line(let line):
                if service == .relay { relayLine(line, slot, connection) } else { answer(line, slot, connection) }
            case .lineTooLong:
                sendLineTooLong(slot, connection)
            }
        }
        // An echo client that does not read its replies is paused; a relay client that does not
        // read what the others say is cut instead (see `deliver`).
        if service == .echoLines { pauseReceiveIfOverLimit(slot, connection) }
    }

    /// The peer finished sending: a last line without "\n" is answered too, as the Perl server
    /// does, and the connection closes once its replies are out.
    func finishLines(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard !connection.pointee.closeAfterOutput else { return }
        if case .line(let line)? = services.framers![Int(slot)].finish() {
            answer(line, slot, connection)
        }
    }

    private func answer(_ line: Line, _ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        if let accessLog = services.accessLog { accessLog.log(peer: services.peers![Int(slot)], line: line) }
        guard var writer = arena.writer(room: EchoLines.maximumReplyCount(maxLine: services.maxLine)) else {
            statistics.outputExhausted += 1
            cut(slot, connection, .outputMemoryFull)
            return
        }
        services.echoLines![Int(slot)].reply(to: line, into: &writer)
        // Echo waits for a slow reader (back-pressure) instead of cutting it, so no cap here.
        if let reason = queueOutput(arena.keep(writer.count), on: slot, connection, cap: .max) { cut(slot, connection, reason) }
    }

    /// The error line for a line longer than the service's max_line, then a close.
    private func sendLineTooLong(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        if var writer = arena.writer(room: 64) {
            ServiceErrorLine.writeLineTooLong(maxLine: services.maxLine, into: &writer)
            queueOutput(arena.keep(writer.count), on: slot, connection, cap: .max)
        }
        closeAfterOutput(slot, connection)
    }

    // MARK: - Greet and counter

    /// Sends the message and closes, in one linked pair of SQEs. No slot is taken: the
    /// connection needs nothing after the close, and the close's completion says when the chunk
    /// the message was rendered into is free again.
    func sendGreetingAndClose(_ descriptor: Int32, peer: Peer) {
        if let fixed = services.fixedMessage {
            ring.queueSendThenClose(socket: descriptor, bytes: fixed.baseAddress!, length: fixed.count,
                                    sendUserData: tag(.greetSend), closeUserData: greetCloseTag(Self.fixedMessage, descriptor), quietClose: true)
            return
        }
        let message = services.message!
        guard var writer = arena.writer(room: message.maximumRenderedCount) else {
            statistics.outputExhausted += 1
            ring.queueClose(descriptor: descriptor, userData: tag(.close), quiet: true)
            return
        }
        let count = service == .counter ? group.connectionsMade.wrappingAdd(1, ordering: .relaxed).oldValue : 0
        greetingsInFlight += 1
        _ = message.render(MessageTemplate.Values(count: count, time: .now, clients: greetingsInFlight, peer: peer), into: &writer)
        let span = arena.keep(writer.count)
        let chunk = span.chunk % UInt32(arena.chunkCount)
        arena.retain(chunk)
        ring.queueSendThenClose(socket: descriptor, bytes: group.bytes(of: span), length: Int(span.length),
                                sendUserData: tag(.greetSend), closeUserData: greetCloseTag(chunk, descriptor), quietClose: false)
    }

    @inline(__always)
    private func greetCloseTag(_ chunk: UInt32, _ descriptor: Int32) -> UserData {
        tag(.greetClose, slot: chunk, generation: UInt32(bitPattern: descriptor))
    }

    /// Every slot is taken: the client gets `server.busy_message`, if there is one, and a close.
    func refuseBusy(_ descriptor: Int32) {
        guard let busy = services.busyMessage else {
            ring.queueClose(descriptor: descriptor, userData: tag(.close), quiet: true)
            return
        }
        ring.queueSendThenClose(socket: descriptor, bytes: busy.baseAddress!, length: busy.count,
                                sendUserData: tag(.greetSend), closeUserData: greetCloseTag(Self.fixedMessage, descriptor), quietClose: true)
    }

    func handleGreetClose(_ completion: Completion) {
        if completion.result == -ECANCELED {
            // The send failed (the peer left), which cancelled the linked close.
            _ = close(Int32(bitPattern: completion.userData.generation))
        }
        if completion.userData.slot != Self.fixedMessage {
            arena.release(completion.userData.slot, count: 1)
            greetingsInFlight -= 1
        }
    }

    // MARK: - Broadcast

    func armTick() {
        guard let interval = services.broadcastInterval else { return }
        ring.queueRepeatingTimeout(every: interval, storage: timeouts, index: timerEntry(.tick),
                                   userData: tag(.tick, generation: timerGeneration))
    }

    private func sendBroadcastGreeting(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>, peer: Peer) {
        guard let greeting = services.broadcast!.greeting else { return }
        guard var writer = arena.writer(room: greeting.maximumRenderedCount) else {
            statistics.outputExhausted += 1
            cut(slot, connection, .outputMemoryFull)
            return
        }
        let clients = group.clients.load(ordering: .relaxed)
        if services.broadcast!.accepted(peer: peer, time: .now, clients: clients, into: &writer) == .send {
            if let reason = queueOutput(arena.keep(writer.count), on: slot, connection, cap: outputCap) { cut(slot, connection, reason) }
        }
    }

    /// One heartbeat: rendered once, queued to every client this worker holds.
    func handleTick(_ completion: Completion) {
        guard completion.userData.generation == timerGeneration else { return }  // replaced by a reload
        if !completion.hasMore && !draining { armTick() }
        guard completion.result == -ETIME else { return }  // cancelled at shutdown
        let localClients = table.openCount
        guard localClients > 0 else {
            var nothing = ByteWriter(UnsafeMutableRawBufferPointer(start: nil, count: 0))
            _ = services.broadcast!.tick(time: .now, clients: 0, into: &nothing)
            return
        }
        guard var writer = arena.writer(room: services.broadcast!.message.maximumRenderedCount) else {
            statistics.outputExhausted += 1
            return
        }
        let clients = group.clients.load(ordering: .relaxed)
        guard case .sendToAll = services.broadcast!.tick(time: .now, clients: clients, into: &writer) else { return }
        let span = arena.keep(writer.count)
        table.forEachOpen { slot, connection in
            if !connection.pointee.cutPending, let reason = queueOutput(span, on: slot, connection, cap: outputCap) {
                cut(slot, connection, reason)
            }
        }
    }
}

extension UnixTime {
    /// The wall clock, for `{time}`.
    static var now: UnixTime {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return UnixTime(seconds: Int64(time.tv_sec), nanoseconds: Int64(time.tv_nsec))
    }
}
