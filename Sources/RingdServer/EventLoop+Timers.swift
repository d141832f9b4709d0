// Timers and reloads: the service's tick, the sweep for idle, lingering and slow clients, and
// SIGHUP's new configuration. Each repeating timer carries a generation in its user data, so a
// timer a reload replaced is recognised by its last completion and dropped.

import RingdConfig
import RingdServices
import URing

#if canImport(Glibc)
    import Glibc
#endif

extension EventLoop {
    // MARK: - The service's tick

    func armTick() {
        guard let interval = service.tickInterval else { return }
        ring.queueRepeatingTimeout(
            every: interval, storage: timeouts, index: timerEntry(.tick),
            userData: tag(.tick, generation: timerGeneration))
    }

    func handleTick(_ completion: Completion) {
        guard completion.userData.generation == timerGeneration else { return }  // replaced by a reload
        if !completion.hasMore && !draining { armTick() }
        guard completion.result == -ETIME else { return }  // cancelled at shutdown
        tickService()
    }

    // MARK: - The sweep

    func armSweep() {
        // Often enough that a client is closed within a quarter of idle_timeout past it.
        let idle = limits.idleTimeoutMilliseconds
        let interval: Duration = idle == 0 ? .seconds(1) : .milliseconds(max(10, min(1000, Int(idle / 4))))
        ring.queueRepeatingTimeout(
            every: interval, storage: timeouts, index: timerEntry(.sweep),
            userData: tag(.sweep, generation: sweepGeneration))
    }

    /// Closes clients idle past the idle timeout and lingering past the linger limit,
    /// cuts `.cut` clients that stayed above the soft output cap for its time, and publishes
    /// the worker's statistics.
    func handleSweep(_ completion: Completion) {
        guard completion.userData.generation == sweepGeneration else { return }  // replaced by a reload
        if !completion.hasMore && !stopping { armSweep() }
        guard completion.result == -ETIME else { return }
        table.forEachOpen { slot, connection in
            switch connection.pointee.sweep(now: now, limits: limits, softCapApplies: S.slowReaders == .cut) {
            case .keep: break
            case .cutOverSoftCap: cut(slot, connection, .softCap)
            case .closeLingering: beginClose(slot, connection)
            case .closeIdle(let quiet): closeIdle(slot, connection, quietMilliseconds: quiet)
            }
        }
        if cluster != nil { checkRedisReplyDeadline() }
        if let cluster, cluster.state == .ready { keepRedisBusy(cluster) }
        publishStatistics()
    }

    private func closeIdle(_ slot: UInt32, _ connection: UnsafeMutablePointer<Connection>, quietMilliseconds quiet: UInt32) {
        statistics.closedIdle += 1
        log.write(
            .debug, client: connection.pointee.descriptor,
            "closed: no input for \(quiet) ms (idle timeout \(limits.idleTimeoutMilliseconds) ms)")
        if connection.pointee.drainsAfterOutput {
            beginClose(slot, connection)  // it neither sends nor reads: no reason to wait
        } else {
            closeAfterOutput(slot, connection)
        }
    }

    /// Copies the counters, with the gauges as they are now, where other threads read them.
    func publishStatistics() {
        statistics.connectionsOpen = table.openCount
        statistics.freeOutputChunks = arena.freeChunkCount
        var queued = 0
        table.forEachOpen { _, connection in queued += Int(connection.pointee.queue.queuedBytes) }
        statistics.outputQueuedBytes = queued
        group.statistics[index].publish(statistics)
    }

    // MARK: - Reloading

    func armReloadWatch() {
        ring.queuePoll(descriptor: group.reloadDescriptor(of: index), events: UInt32(POLLIN), userData: tag(.reload))
    }

    /// SIGHUP: takes the configuration the main thread checked and published. Timers whose
    /// interval changed are cancelled and armed again under a new generation, so the cancelled
    /// one's last completion is recognised and dropped.
    func reload() {
        group.acknowledgeReload(of: index)
        if !draining { armReloadWatch() }
        guard let configuration = group.publishedConfiguration else { return }
        log.setLevel(configuration.server.logLevel)
        let oldIdle = limits.idleTimeoutMilliseconds
        limits = ConnectionLimits(configuration)
        let oldInterval = service.tickInterval
        let fresh = makeService(configuration)
        service.reconfigure(from: fresh)
        fixedGreeting = service.fixedGreeting
        services.reconfigure(configuration, serviceNeedsPeer: service.needsPeer)
        if service.tickInterval != oldInterval && !draining {
            ring.queueCancel(target: tag(.tick, generation: timerGeneration), userData: tag(.cancel))
            timerGeneration &+= 1
            armTick()
        }
        if limits.idleTimeoutMilliseconds != oldIdle && !draining {
            ring.queueCancel(target: tag(.sweep, generation: sweepGeneration), userData: tag(.cancel))
            sweepGeneration &+= 1
            armSweep()
        }
        log.write(.info, "configuration reloaded")
    }
}
