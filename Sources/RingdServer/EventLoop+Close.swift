// Closing: after output (a FIN, then lingering until the peer's), at once (cancels, then the
// close once nothing is in flight), cut off (a reset, for a client too slow to keep up), at the
// drain, and at shutdown.

import RingdServices
import URing

#if canImport(Glibc)
    import Glibc
#endif

extension EventLoop {
    /// Closes the connection once what is queued for it has been sent.
    func closeAfterOutput(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard connection.pointee.lifecycle == .open else { return }
        connection.pointee.move(to: .closingAfterOutput)
        // The service is done with it now, not when its socket closes: a relay client on its
        // way out is gone for the others at once.
        closeToService(slot)
        if !connection.pointee.sendInFlight && !hasQueuedOutput(connection) { closeGracefully(slot, connection) }
    }

    /// Everything owed is sent: FIN now, then read and drop until the peer closes too. Closing
    /// with unread input would send a reset, and a reset can destroy the reply still in the
    /// peer's receive queue (the error line before a close, for instance).
    func closeGracefully(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        if connection.pointee.peerFinished && !connection.pointee.receiveArmed {
            beginClose(slot, connection)
            return
        }
        guard connection.pointee.lifecycle == .closingAfterOutput else { return }
        connection.pointee.move(to: .lingering)
        connection.pointee.lastActivity = now  // the linger limit counts from here
        ring.queueShutdownWrite(socket: connection.pointee.descriptor, userData: tag(.shutdownWrite))
        connection.pointee.receivePaused = false
        if !connection.pointee.receiveArmed && !connection.pointee.waitingForBuffers && !connection.pointee.peerFinished {
            armReceive(slot, connection)
        }
    }

    /// Starts closing: cancels what is in flight; the slot is released after the last completion.
    func beginClose(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard connection.pointee.lifecycle.isHeldOpen else { return }
        if connection.pointee.lifecycle.serviceHoldsIt { closeToService(slot) }
        connection.pointee.move(to: .closing)
        if connection.pointee.receiveArmed || connection.pointee.sendInFlight {
            ring.queueCancelAll(descriptor: connection.pointee.descriptor, userData: tag(.cancel))
        } else {
            finishCloseIfIdle(slot, connection)
        }
    }

    func finishCloseIfIdle(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>) {
        guard !connection.pointee.receiveArmed && !connection.pointee.sendInFlight else { return }
        recycleQueuedBuffers(connection)
        dropOutput(connection)
        if S.input != .echoed { releaseServiceSlot(slot) }
        log.write(.trace, client: connection.pointee.descriptor, "closed")
        ring.queueClose(descriptor: connection.pointee.descriptor, userData: tag(.close), quiet: true)
        table.release(slot)
        statistics.closed += 1
        if acceptPausedListeners != 0 {
            // The close above frees a descriptor: accepting can start again. (The close is
            // queued before the accept, and SQEs start in order.)
            for listener in listeners.indices { resumeAccept(listener) }
        }
    }

    // MARK: - Cuts

    /// Marks a client to be cut at the end of the iteration: it is over its output cap, or its
    /// output could not be stored. Cutting later keeps fan-out loops free of re-entry.
    func cut(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>, _ reason: CutReason) {
        guard connection.pointee.markForCut() else { return }
        cuts[cutCount] = (slot, connection.pointee.generation, reason)
        cutCount += 1
    }

    func processCuts() {
        // Cutting a relay client tells the others it left, which can mark more clients; the
        // list is drained until it stays empty.
        var position = 0
        while position < cutCount {
            let (slot, generation, reason) = cuts[position]
            position += 1
            let connection = table[slot]
            guard connection.pointee.lifecycle.isMarkedForCut && connection.pointee.generation == generation else { continue }
            countCut(reason, connection)
            // A reset, not a FIN: the kernel drops what it still holds for the client (megabytes
            // of socket buffer for a stalled reader) instead of trickling it out after the close.
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            _ = setsockopt(
                connection.pointee.descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            beginClose(slot, connection)
        }
        cutCount = 0
    }

    private func countCut(_ reason: CutReason, _ connection: UnsafeMutablePointer<Connection>) {
        switch reason {
        case .outputCap: statistics.cutOverOutputCap += 1
        case .softCap: statistics.cutOverSoftCap += 1
        case .outputMemoryFull: statistics.cutOutputMemoryFull += 1
        }
        log.write(
            .debug, client: connection.pointee.descriptor,
            "cut: \(describe(reason)), \(connection.pointee.queue.queuedBytes) bytes queued")
        if let count = cutReport.count() {
            log.write(
                .info,
                "cut \(count) slow client\(count == 1 ? "" : "s"); so far \(statistics.cutOverOutputCap) over io.output_cap, "
                    + "\(statistics.cutOverSoftCap) over io.output_soft_cap for io.output_soft_time, \(statistics.cutOutputMemoryFull) with output memory full"
            )
        }
    }

    private func describe(_ reason: CutReason) -> String {
        switch reason {
        case .outputCap: "queued output would pass io.output_cap (\(limits.outputCap) bytes)"
        case .softCap:
            "queued output stayed above io.output_soft_cap (\(limits.outputSoftCap) bytes) for io.output_soft_time (\(limits.outputSoftTimeMilliseconds) ms)"
        case .outputMemoryFull: "output memory (io.output_memory) ran low"
        }
    }

    /// The global bound on queued output: each worker's `io.output_memory`. Per-client caps
    /// alone cannot keep many slow clients from pinning all of it (heartbeats they have not
    /// taken, echo replies up to `io.output_limit` each), and a full arena stops output for
    /// everyone. So while any arena is low, the clients furthest behind (queues of at least half
    /// the longest, and more than one chunk) are cut, and their chunks come back.
    func relieveMemoryPressure() {
        let low = arena.isLow
        if low != arenaReportedLow {
            arenaReportedLow = low
            if low { group.arenasLow.add(1, ordering: .relaxed) } else { group.arenasLow.subtract(1, ordering: .relaxed) }
        }
        guard group.arenasLow.load(ordering: .relaxed) > 0, now &- lastPressureScan >= 10 else { return }
        lastPressureScan = now
        var longest: UInt32 = 0
        table.forEachOpen { _, connection in
            if !connection.pointee.lifecycle.isMarkedForCut { longest = max(longest, connection.pointee.queue.queuedBytes) }
        }
        let threshold = max(longest / 2, UInt32(arena.chunkSize))
        guard longest >= threshold else { return }
        table.forEachOpen { slot, connection in
            if connection.pointee.queue.queuedBytes >= threshold { cut(slot, connection, .outputMemoryFull) }
        }
    }

    // MARK: - Hand-over, drain and shutdown

    /// A new process took over the listeners and accepts on them: stop accepting, and close
    /// this worker's descriptors of them. The new process holds its own of every socket it
    /// wanted, so nothing queued there is lost; one it did not want closes with the last of
    /// this process's descriptors, as at SIGTERM. Unlike the drain, no connection is closed: each is served until its client closes
    /// it, since a client may be about to send. At `server.drain_timeout` the drain begins.
    /// A connection the accept had already taken when it was cancelled is served too.
    func beginHandOver() {
        // Counted once the accepts are cancelled (a cancel of a waiting accept takes effect in
        // the submit), so the new process knows when nothing here can take a connection.
        defer { group.workersHandedOver.add(1, ordering: .releasing) }
        guard !draining && !handingOver else { return }
        handingOver = true
        for listener in listeners.indices {
            ring.queueCancel(target: tag(.accept, slot: UInt32(listener)), userData: tag(.cancel))
        }
        try? ring.submit()
        listeners.forEach { $0.close() }
        log.write(.info, "handed over: serving \(table.openCount) open connections until they close")
        if drainTimeout == .zero {
            beginDrain()
        } else {
            ring.queueTimeout(
                after: drainTimeout, storage: timeouts, index: timerEntry(.handOverDeadline), userData: tag(.handOverDeadline))
        }
    }

    /// SIGTERM or SIGINT: stop accepting and ticking; close idle connections now and the others
    /// once what is queued for them has gone out, or at `server.drain_timeout`, whichever is first.
    func beginDrain() {
        guard !draining else { return }
        draining = true
        for listener in listeners.indices {
            ring.queueCancel(target: tag(.accept, slot: UInt32(listener)), userData: tag(.cancel))
        }
        // Close the listeners too, once the cancels are in the kernel: a client that connects
        // during the drain is refused instead of waiting in a backlog nobody accepts from.
        try? ring.submit()
        listeners.forEach { $0.close() }
        if service.tickInterval != nil {
            ring.queueCancel(target: tag(.tick, generation: timerGeneration), userData: tag(.cancel))
        }
        table.forEachOpen { slot, connection in
            if connection.pointee.drainsAfterOutput {
                closeAfterOutput(slot, connection)
            } else {
                beginClose(slot, connection)
            }
        }
        if drainTimeout == .zero {
            stopping = true
        } else {
            ring.queueTimeout(
                after: drainTimeout, storage: timeouts, index: timerEntry(.drainDeadline), userData: tag(.drainDeadline))
        }
    }

    /// Releases what `init` built when start-up failed elsewhere and `run` never ran.
    func tearDownWithoutRunning() { tearDown() }

    func tearDown() {
        // Closes queued by the last iteration (the last connections of a drain) go to the kernel
        // before the ring does; closing the ring would otherwise drop them and leave those
        // clients connected until the process exits.
        try? ring.submit()
        statistics.completionsDropped = Int(ring.droppedCompletions)
        if statistics.completionsDropped > 0 {
            log.write(
                .error, "the kernel dropped \(statistics.completionsDropped) completions it could not queue (out of memory?)")
        }
        table.forEachHeld { slot, connection in
            if draining {
                // Still open at server.drain_timeout: output it was owed is dropped.
                statistics.closedAtDrainDeadline += 1
                statistics.closed += 1
                log.write(
                    .debug, client: connection.pointee.descriptor,
                    "closed at server.drain_timeout with \(connection.pointee.queue.queuedBytes) bytes unsent")
            }
            _ = close(connection.pointee.descriptor)
            if S.input != .echoed { releaseServiceSlot(slot) }
        }
        listeners.forEach { $0.close() }
        closeClusterAtShutdown()
        // Closing the ring cancels every request still in flight; only then may the buffer
        // memory those requests point into be unmapped.
        ring.close()
        buffers.close()
        table.releaseAllAfterShutdown()
        publishStatistics()
    }
}
