// The cluster for a service that publishes and keeps names (relay): its `.publish` and `.cluster`
// actions turned into commands on the worker's Redis connection, Redis's answers handed back as
// `clusterAnswered`, and the upkeep of the sweep: the service's names refreshed before they
// expire (and claimed again after a reconnect), and a PING on a connection that has been quiet.
//
// Everything waits in the link's fixed buffers: a line or a request that finds no room (or no
// connection) is not sent. A line that cannot leave the host is counted and logged at most once
// a second; a request is answered `.failed` at once, so no client waits on Redis unbounded.

import RingdCluster
import RingdServices

extension EventLoop {
    // MARK: - Actions

    /// A `.publish` action: the bytes go on the service's channel, or are counted as lost.
    func publishToCluster(_ bytes: UnsafeRawBufferPointer) {
        guard let link = cluster else { return }
        // Only on a connection HELLO answered: one still connecting may yet fail, and the lines
        // queued behind its HELLO would be lost without a count.
        if link.state == .ready && bytes.count <= RedisLink.largestPublished && link.publish(bytes, now: now) { return }
        statistics.clusterLinesUnpublished += 1
        if let count = unpublishedReport.count() {
            let cause =
                bytes.count > RedisLink.largestPublished
                ? "a line over \(RedisLink.largestPublished) bytes stays on its host"
                : link.state != .ready ? "Redis at \(link.addressText) is unavailable" : "the queue for Redis is full"
            log.write(
                .warning,
                "\(count) line\(count == 1 ? "" : "s") could not be published to the other hosts: \(cause); "
                    + "\(statistics.clusterLinesUnpublished) so far")
        }
    }

    /// A `.cluster` action; false when Redis cannot take it now (the caller answers `.failed`).
    func askCluster(_ request: ClusterRequest, bytes: UnsafeRawBufferPointer?) -> Bool {
        guard let link = cluster, link.state != .down else {
            statistics.clusterRequestsFailed += 1
            return false
        }
        let queued: Bool
        switch request {
        case .claim(let claim): queued = link.claimName(claim, kind: .claimName, now: now)
        case .release(let claim): queued = link.releaseName(claim, now: now)
        case .sendPrivate(let sender, let target, _): queued = link.sendPrivate(bytes!, from: sender, to: target, now: now)
        case .listNames(let asker): queued = link.listNames(for: asker, now: now)
        }
        if !queued { statistics.clusterRequestsFailed += 1 }
        return queued
    }

    // MARK: - Answers

    /// The reply to a relay script: its answer goes to the service. An error about one name (a
    /// key of the wrong type, say) fails that request alone; one that says Redis lost the
    /// scripts (NOSCRIPT), or a reply that is not RESP's answer to a script, resets the
    /// connection, which loads them again.
    func relayReplied(_ link: RedisLink, _ pending: PendingReply, _ element: RESPElement?) {
        guard case .integer(let value)? = element else {
            if let error = element?.errorText, !error.hasPrefix("NOSCRIPT") {
                log.write(.error, "Redis answered \(pending.kind) about \(pending.target ?? pending.claim.name) with \(error)")
                failPending(pending)
                return
            }
            replyFailed(link, pending, element?.errorText ?? "a reply that is not an integer")
            return
        }
        switch pending.kind {
        case .claimName:
            answerService(.claimed(pending.claim, granted: value == 1))
        case .refreshName where value != 1:
            statistics.clusterNamesLost += 1
            log.write(.info, "the name \(pending.claim.name) was taken on another host while this one could not hold it")
            answerService(.lost(pending.claim))
        case .sendPrivate:
            answerService(.privateSent(from: pending.claim, target: pending.target!, delivered: value == 1))
        default:
            break
        }
    }

    /// The end of a /who reply: the names gathered in the link go to the service.
    func namesReplied(_ link: RedisLink, total: Int) {
        guard let pending = link.popReply(), pending.kind == .listNames else {
            resetRedis(link, "Redis sent a list of names nobody asked for")
            return
        }
        answerService(.names(for: pending.claim, total: total, listed: link.names.listed))
    }

    /// A command whose reply will not come (the connection was reset): whoever waits is told.
    func failPending(_ pending: PendingReply) {
        switch pending.kind {
        case .incrementCounter:
            sendUnavailable(pending.descriptor)
        case .claimName:
            statistics.clusterRequestsFailed += 1
            answerService(.failed(.claim(pending.claim)))
        case .sendPrivate:
            statistics.clusterRequestsFailed += 1
            answerService(.failed(.sendPrivate(from: pending.claim, target: pending.target!, bytes: 0..<0)))
        case .listNames:
            statistics.clusterRequestsFailed += 1
            answerService(.failed(.listNames(for: pending.claim)))
        case .hello, .ping, .publish, .refreshName, .releaseName, .loadScript:
            break
        }
    }

    // MARK: - Upkeep

    /// From the sweep, with the link ready: names refreshed when due, a PING when it is quiet.
    func keepRedisBusy(_ link: RedisLink) {
        if link.relay != nil && now &- link.lastRefreshAt >= RelayKeys.nameRefreshMilliseconds { refreshClaims(link) }
        if link.oldestPendingSince == nil && now &- link.lastCommandAt >= RedisLink.idlePingMilliseconds {
            _ = link.ping(now: now)
        }
    }

    /// Claims every name the service holds again: a refresh, or after a reconnect the claims the
    /// new Redis (or the old one, after the names expired) has not seen. A name another host took
    /// meanwhile comes back as `.lost`. A round under way when the next is due goes on.
    func refreshClaims(_ link: RedisLink) {
        guard link.relay != nil else { return }
        link.lastRefreshAt = now
        if link.refreshCursor == nil { link.refreshCursor = 0 }
        continueRefresh(link)
    }

    /// Writes claims from the refresh cursor on until the output or the reply queue is full;
    /// the end of each loop iteration (once the last send has freed a half) goes on from there,
    /// so a round streams as fast as Redis takes it, however many names there are.
    func continueRefresh(_ link: RedisLink) {
        guard let cursor = link.refreshCursor else { return }
        link.refreshCursor = service.forEachClaim(from: cursor) { claim in
            link.claimName(claim, kind: .refreshName, now: now)
        }
    }
}
