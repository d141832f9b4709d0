// The seam: events to the service, and its actions carried out. The service writes into the
// worker's output arena (a writer with `maximumOutputCount` bytes of room); each action's range
// of that writer becomes one span, queued by reference to every recipient, never copied.

import RingdServices
import URing

#if canImport(Glibc)
    import Glibc
#endif

extension EventLoop {
    // MARK: - Events

    func openToService(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>, peer: Peer) {
        services.open(slot: Int(slot), peer: peer, lineLength: service.maximumLineLength, framesLines: S.input == .lines)
        if S.slowReaders == .cut { group.clients.add(1, ordering: .relaxed) }
        guard var writer = writer(for: slot, connection) else { return }
        let context = ServiceContext(time: .now, clients: group.clients.load(ordering: .relaxed), connections: table.openCount)
        carryOut(service.opened(Int(slot), peer: peer, context: context, into: &writer), writtenBytes: writer.count)
    }

    /// The connection takes no more input: it is closing, or closes after its output.
    func closeToService(_ slot: UInt32) {
        guard S.input != .echoed, var writer = arena.writer(room: service.maximumOutputCount) else { return }
        carryOut(service.closed(Int(slot), into: &writer), writtenBytes: writer.count)
    }

    /// The slot's engine-side state goes (its framer is reset for the slot's next connection).
    func releaseServiceSlot(_ slot: UInt32) {
        services.release(slot: Int(slot))
        if S.slowReaders == .cut { group.clients.subtract(1, ordering: .relaxed) }
    }

    /// Cuts `input` into lines and hands each to the service, until the connection is on its
    /// way out (a `/quit`, a line too long, a cut).
    func receivedLines(_ input: UnsafeRawBufferPointer, _ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        let framer = services.framer(ofSlot: Int(slot))
        var position = 0
        while connection.pointee.lifecycle == .open,
            let event = framer.pointee.next(in: input, position: &position)
        {
            guard var writer = writer(for: slot, connection) else { return }
            switch event {
            case .line(let line):
                services.logAccess(line, slot: Int(slot))
                carryOut(service.received(line, from: Int(slot), into: &writer), writtenBytes: writer.count)
            case .lineTooLong:
                carryOut(service.lineTooLong(from: Int(slot), into: &writer), writtenBytes: writer.count)
            }
        }
        // A client that does not read its replies is paused (a `.cut` service cuts it instead,
        // when its queue passes the cap).
        if S.slowReaders == .paused { pauseReceiveIfOverLimit(slot, connection) }
    }

    /// The peer finished sending: the service gets what followed its last "\n", if anything.
    func inputEnded(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard S.input == .lines || S.input == .dropped, var writer = writer(for: slot, connection) else { return }
        var lastLine: Line?
        if S.input == .lines, case .line(let line)? = services.framer(ofSlot: Int(slot)).pointee.finish() {
            services.logAccess(line, slot: Int(slot))
            lastLine = line
        }
        carryOut(service.inputEnded(Int(slot), lastLine: lastLine, into: &writer), writtenBytes: writer.count)
    }

    func outputDrained(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard var writer = writer(for: slot, connection) else { return }
        carryOut(service.outputDrained(Int(slot), into: &writer), writtenBytes: writer.count)
    }

    /// The service's timer: its output goes to whoever its actions name.
    func tickService() {
        guard var writer = arena.writer(room: service.maximumOutputCount) else {
            statistics.outputExhausted += 1
            return
        }
        let context = ServiceContext(time: .now, clients: group.clients.load(ordering: .relaxed), connections: table.openCount)
        carryOut(service.tick(context: context, into: &writer), writtenBytes: writer.count)
    }

    /// A message on the service's cluster channel. One too long for an output chunk or for
    /// `io.output_cap` (it would cut every client) is dropped and counted.
    func deliverUpstream(_ message: UnsafeRawBufferPointer) {
        let room = message.count + 1
        guard room <= arena.chunkSize, room <= Int(limits.outputCap) else {
            statistics.upstreamDropped += 1
            if let count = upstreamDropReport.count() {
                log.write(
                    .warning,
                    "dropped \(count) channel message\(count == 1 ? "" : "s") longer than an output chunk or io.output_cap; "
                        + "\(statistics.upstreamDropped) so far")
            }
            return
        }
        guard var writer = arena.writer(room: room) else {
            statistics.outputExhausted += 1
            return
        }
        statistics.upstreamMessages += 1
        let context = ServiceContext(time: .now, clients: group.clients.load(ordering: .relaxed), connections: table.openCount)
        // Every worker hears the channel on its own connection: nothing is posted to the others.
        carryOut(service.upstream(message, context: context, into: &writer), writtenBytes: writer.count, posting: false)
    }

    /// Redis's answer to one of the service's requests (or a lost name), for the service.
    func answerService(_ answer: ClusterAnswer) {
        guard var writer = arena.writer(room: service.maximumOutputCount) else {
            statistics.outputExhausted += 1
            return
        }
        let context = ServiceContext(time: .now, clients: group.clients.load(ordering: .relaxed), connections: table.openCount)
        carryOut(service.clusterAnswered(answer, context: context, into: &writer), writtenBytes: writer.count)
    }

    /// Room for one event's output; when the arena has none, the client the event is about is
    /// cut, since what it is owed cannot be stored. Once the arena runs low, a client already a
    /// chunk or more behind is cut at its next event instead: it is one of those pinning the
    /// memory, and the last quarter is left for clients that read. Without that, the clients
    /// that never read fill the arena between two pressure scans, and the next client to speak
    /// is the one cut, however little it is owed.
    @inline(__always)
    private func writer(for slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) -> ByteWriter? {
        if arena.isLow && Int(connection.pointee.queue.queuedBytes) >= arena.chunkSize {
            cut(slot, connection, .outputMemoryFull)
            return nil
        }
        guard let writer = arena.writer(room: service.maximumOutputCount) else {
            statistics.outputExhausted += 1
            cut(slot, connection, .outputMemoryFull)
            return nil
        }
        return writer
    }

    // MARK: - Actions

    /// Carries out what the service decided, in order. Its ranges are relative to the writer,
    /// which began at the arena's fill point, so one `keep` covers them all. `posting`: false
    /// for a channel message, which every worker hears itself.
    ///
    /// A cluster request Redis cannot take now is answered (`.failed`) after every action has
    /// been carried out: the answer renders into the arena, which must not move on from a chunk
    /// that actions not yet queued still point into.
    @inline(__always)
    private func carryOut(_ actions: ServiceActions, writtenBytes: Int, posting: Bool = true) {
        guard !actions.isEmpty else { return }
        let written = arena.keep(writtenBytes)
        var failedRequests: UInt8 = 0
        // By index: a debug build's unspecialized IndexingIterator mallocs for each element.
        var position = actions.startIndex
        while position < actions.endIndex {
            let action = actions[position]
            position += 1
            switch action {
            case .send(let range, let recipients):
                send(span(range, of: written), to: recipients, posting: posting)
            case .publish(let range):
                publishToCluster(bytes(of: span(range, of: written)))
            case .cluster(let request):
                var bytes: UnsafeRawBufferPointer?
                if case .sendPrivate(_, _, let range) = request { bytes = self.bytes(of: span(range, of: written)) }
                if !askCluster(request, bytes: bytes) { failedRequests |= 1 << (position - 1) }
            case .closeAfterOutput(let slot):
                closeAfterOutput(UInt32(slot), table[UInt32(slot)])
            case .pauseReading(let slot):
                let connection = table[UInt32(slot)]
                guard connection.pointee.lifecycle == .open else { continue }
                pauseReceive(UInt32(slot), connection)
            case .resumeReading(let slot):
                let connection = table[UInt32(slot)]
                if connection.pointee.lifecycle == .open && connection.pointee.receivePaused {
                    resumeReceive(UInt32(slot), connection)
                }
            }
        }
        guard failedRequests != 0 else { return }
        for position in actions.indices where failedRequests & (1 << position) != 0 {
            if case .cluster(let request) = actions[position] { answerService(.failed(request)) }
        }
    }

    @inline(__always)
    private func span(_ range: Range<Int>, of written: OutputSpan) -> OutputSpan {
        OutputSpan(chunk: written.chunk, offset: written.offset + UInt32(range.lowerBound), length: UInt32(range.count))
    }

    @inline(__always)
    private func bytes(of span: OutputSpan) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: group.bytes(of: span), count: Int(span.length))
    }

    @inline(__always)
    private func send(_ span: OutputSpan, to recipients: Recipients, posting: Bool) {
        switch recipients {
        case .one(let slot):
            deliver(span, to: UInt32(slot), table[UInt32(slot)])
        case .allExcept(let slot):
            fanOut(span, except: UInt32(slot))
            if S.reach == .everyWorker && posting { post(span) }
        case .everyone:
            fanOut(span, except: nil)
            if S.reach == .everyWorker && posting { post(span) }
        case .client(let address):
            if address.worker == index {
                deliver(span, toClient: address.client, inSlot: UInt32(address.slot))
            } else {
                precondition(
                    S.reach == .everyWorker, "a .client send to another worker from a service whose reach is .thisWorker")
                post(Post(span, toSlot: UInt32(address.slot), client: address.client), to: address.worker)
            }
        }
    }

    /// Queues `span` to an open client the service still knows: one not on its way out.
    @inline(__always)
    func deliver(_ span: OutputSpan, to slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard connection.pointee.lifecycle == .open else { return }
        let cap = S.slowReaders == .cut ? limits.outputCap : .max
        if let reason = queueOutput(span, on: slot, connection, cap: cap) { cut(slot, connection, reason) }
    }

    /// Queues `span` to every open client of this worker except `excluded`.
    func fanOut(_ span: OutputSpan, except excluded: UInt32?) {
        table.forEachOpen { slot, connection in
            if slot != excluded { deliver(span, to: slot, connection) }
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
