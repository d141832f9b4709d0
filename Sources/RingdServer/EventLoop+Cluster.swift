// The cluster: this worker's connection to Redis (RedisLink) driven through its ring. A connect
// with a linked timeout; one send of the pipelined commands per loop iteration; one recv at a
// time into the link's input buffer, whose replies and pushes are decoded in place.
//
// Faults: a failed connect, a reset or closed connection, bytes that are not RESP, an error
// where a reply must succeed: each resets the connection (the clients waiting for a reply are
// told the cluster is unavailable), and the worker connects again after a backoff that doubles
// from 100 ms to 5 s. It logs the first failure and the recovery, not every attempt; meanwhile
// it serves what needs no Redis.

import RingdCluster
import RingdServices
import URing

#if canImport(Glibc)
    import Glibc
#endif

extension EventLoop {
    // MARK: - Connecting

    /// Connects when the link is down, its backoff has passed and no operation of the last
    /// connection is still in flight.
    func connectToRedisIfDue() {
        guard let link = cluster, link.state == .down, link.retryDue, link.operationsInFlight == 0, !draining else { return }
        if link.retiringSocket >= 0 {
            ring.queueClose(descriptor: link.retiringSocket, userData: tag(.close), quiet: true)
            link.retiringSocket = -1
        }
        let descriptor = socket(link.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            redisAttemptFailed(link, "socket(2) failed: \(errnoName(errno))")
            return
        }
        link.begin(socket: descriptor, now: now)
        link.operationsInFlight += 1
        ring.queueConnect(
            socket: descriptor, address: UnsafeRawPointer(link.address).assumingMemoryBound(to: sockaddr.self),
            length: link.addressLength, userData: tag(.redisConnect, generation: link.generation),
            limit: RedisLink.connectLimit, storage: timeouts, index: timerEntry(.redisConnect),
            timeoutUserData: tag(.redisConnectTimeout))
    }

    func handleRedisConnect(_ completion: Completion) {
        guard let link = current(completion) else { return }
        guard completion.result >= 0 else {
            let cause =
                completion.result == -ECANCELED ? "no answer within \(RedisLink.connectLimit)" : errnoName(-completion.result)
            resetRedis(link, "connect failed: \(cause)")
            return
        }
        if link.family != AF_UNIX {
            var on: Int32 = 1
            _ = setsockopt(link.socket, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        }
        link.state = .greeting
        armRedisReceive(link)
        flushRedis()
    }

    func handleRedisRetry(_ completion: Completion) {
        guard let link = cluster else { return }
        link.retryDue = true
        connectToRedisIfDue()
    }

    /// The completion's link when it is for the current connection; otherwise (a reset one's
    /// last operations) nil, after counting it down.
    private func current(_ completion: Completion) -> RedisLink? {
        guard let link = cluster else { return nil }
        link.operationsInFlight -= 1
        guard completion.userData.generation == link.generation, link.state != .down else {
            connectToRedisIfDue()
            return nil
        }
        return link
    }

    // MARK: - Sending

    /// End of iteration: what the handlers wrote goes out in one send, once connected.
    func flushRedis() {
        guard let link = cluster, link.state == .greeting || link.state == .ready else { return }
        if link.refreshCursor != nil && link.state == .ready { continueRefresh(link) }
        guard let bytes = link.takeOutput() else { return }
        queueRedisSend(link, bytes)
    }

    private func queueRedisSend(_ link: RedisLink, _ bytes: UnsafeRawBufferPointer) {
        link.operationsInFlight += 1
        ring.queueSend(
            socket: link.socket, bytes: bytes.baseAddress!, length: bytes.count,
            userData: tag(.redisSend, generation: link.generation))
    }

    func handleRedisSend(_ completion: Completion) {
        guard let link = current(completion) else { return }
        guard completion.result > 0 else {
            resetRedis(link, "send failed: \(errnoName(-completion.result))")
            return
        }
        if let rest = link.sent(Int(completion.result)) {
            queueRedisSend(link, rest)
        } else {
            flushRedis()
        }
    }

    // MARK: - Receiving

    private func armRedisReceive(_ link: RedisLink) {
        let free = link.input.count - link.inputCount
        link.operationsInFlight += 1
        ring.queueReceive(
            socket: link.socket, into: link.input.baseAddress! + link.inputCount, length: free,
            userData: tag(.redisReceive, generation: link.generation))
    }

    func handleRedisReceive(_ completion: Completion) {
        guard let link = current(completion) else { return }
        guard completion.result > 0 else {
            resetRedis(
                link, completion.result == 0 ? "Redis closed the connection" : "recv failed: \(errnoName(-completion.result))")
            return
        }
        link.inputCount += Int(completion.result)
        let consumed: Int
        do throws(RESPProtocolError) {
            consumed = try decodeRedisInput(link)
        } catch {
            resetRedis(link, "Redis sent bytes that are not RESP: \(error)")
            return
        }
        guard link.state != .down else { return }  // a reply reset the connection
        link.discardInput(consumed)
        // The decoder bounds every element below the buffer's size, so a full buffer is all
        // decoded and some of it is freed here.
        armRedisReceive(link)
    }

    /// Hands every complete element in the input to its handler; returns the bytes consumed.
    private func decodeRedisInput(_ link: RedisLink) throws(RESPProtocolError) -> Int {
        let window = UnsafeRawBufferPointer(start: link.input.baseAddress!, count: link.inputCount)
        var position = 0
        while link.state != .down {
            let depthBefore = link.decoder.depth
            guard let element = try link.decoder.next(in: window, position: &position) else { break }
            handleRedisElement(link, element, depthBefore: depthBefore)
        }
        return position
    }

    /// One decoded element: a whole reply, the start of an aggregate reply or a push, or an
    /// element inside one (`depthBefore` > 0).
    private func handleRedisElement(_ link: RedisLink, _ element: RESPElement, depthBefore: Int) {
        if depthBefore == 0 {
            switch element {
            case .push(let count):
                if count > 0 { link.value = .push(index: 0, isMessage: false, onChannel: false) }
            case .array(let count?) where count > 0 && link.oldestPendingKind == .listNames:
                link.names.reset()
                link.value = .names(index: 0, total: 0)
            case .array(let count?) where count > 0, .set(let count) where count > 0, .map(let count) where count > 0:
                link.value = .aggregateReply
            default:
                redisReply(link, element)
            }
            return
        }
        if case .push(let index, var isMessage, var onChannel) = link.value, depthBefore == 1 {
            let text = element.text
            switch index {
            case 0: isMessage = text.map { RedisLink.equal($0, "message") } ?? false
            case 1: onChannel = text.map { link.isChannel($0) } ?? false
            case 2 where isMessage && onChannel: if let text { deliverUpstream(text) }
            default: break
            }
            link.value = .push(index: index + 1, isMessage: isMessage, onChannel: onChannel)
        }
        if case .names(let index, var total) = link.value, depthBefore == 1 {
            if index == 0, case .integer(let count) = element { total = Int(clamping: count) }
            if index > 0, let name = element.text { link.names.append(name) }
            link.value = .names(index: index + 1, total: total)
        }
        guard link.decoder.depth == 0 else { return }
        switch link.value {
        case .aggregateReply: redisReply(link, nil)
        case .names(_, let total): namesReplied(link, total: total)
        default: break
        }
        link.value = .none
    }

    /// A reply: it answers the oldest pending command. `element` is nil for an aggregate.
    private func redisReply(_ link: RedisLink, _ element: RESPElement?) {
        guard let pending = link.popReply() else {
            resetRedis(link, "Redis sent a reply to no command")
            return
        }
        switch pending.kind {
        case .hello:
            if let error = element?.errorText {
                log.write(
                    .error,
                    "Redis at \(link.addressText) refused HELLO 3: \(error) (ringd needs Redis 6 or later, or Valkey; "
                        + "check cluster.username and cluster.password)")
                resetRedis(link, nil)
                return
            }
            link.state = .ready
            statistics.clusterConnects += 1
            if link.reportedDown || statistics.clusterConnects == 1 {
                let after = link.failedAttempts > 0 ? " after \(link.failedAttempts) failed attempts" : ""
                log.write(.info, "connected to Redis at \(link.addressText) as node \(link.node)\(after)")
            }
            link.reportedDown = false
            link.failedAttempts = 0
            link.backoff = RedisLink.initialBackoff
            refreshClaims(link)
        case .incrementCounter:
            guard case .integer(let value)? = element, value >= 1 else {
                sendUnavailable(pending.descriptor)
                let what = element?.errorText ?? "a reply that is not a positive integer"
                log.write(.error, "Redis answered INCR on the counter key with \(what)")
                resetRedis(link, nil)
                return
            }
            sendNumberedGreeting(pending.descriptor, peer: pending.peer, number: UInt64(value - 1))
        case .ping, .publish, .releaseName:
            if let error = element?.errorText { replyFailed(link, pending, error) }
        case .loadScript:
            guard let sha = element?.text, link.relay?.record(sha: sha, of: Int(pending.descriptor)) == true else {
                replyFailed(link, pending, element?.errorText ?? "a reply that is not a script's SHA1")
                return
            }
        case .claimName, .refreshName, .sendPrivate, .listNames:
            relayReplied(link, pending, element)
        }
    }

    /// An error where a reply must succeed: logged, and the connection reset.
    func replyFailed(_ link: RedisLink, _ pending: PendingReply, _ error: String) {
        log.write(.error, "Redis answered \(pending.kind) with \(error)")
        failPending(pending)
        resetRedis(link, nil)
    }

    // MARK: - Faults

    /// From the sweep: a Redis that has not answered the oldest command for
    /// `replyLimitMilliseconds` is treated as gone, so no client waits on it longer.
    func checkRedisReplyDeadline() {
        guard let link = cluster, link.state != .down, let since = link.oldestPendingSince,
            now &- since > RedisLink.replyLimitMilliseconds
        else { return }
        resetRedis(link, "no reply within \(RedisLink.replyLimitMilliseconds) ms")
    }

    /// Resets the connection: the clients waiting for a reply are told the cluster is
    /// unavailable, and the backoff timer starts. `reason` is logged if this is the first
    /// failure since the link last worked.
    func resetRedis(_ link: RedisLink, _ reason: String?) {
        let wasUp = link.state == .ready
        if link.socket >= 0 {
            // Wakes the recv and fails a send at once; a connect in flight is cancelled.
            _ = shutdown(link.socket, Int32(SHUT_RDWR))
            ring.queueCancelAll(descriptor: link.socket, userData: tag(.cancel))
        }
        link.reset()
        while let pending = link.popReply() { failPending(pending) }
        if wasUp { statistics.clusterDisconnects += 1 }
        redisAttemptFailed(link, reason, countsAsAttempt: !wasUp)
    }

    /// `countsAsAttempt`: false for the loss of a connection that worked, which is no attempt.
    private func redisAttemptFailed(_ link: RedisLink, _ reason: String?, countsAsAttempt: Bool = true) {
        if countsAsAttempt { link.failedAttempts += 1 }
        link.retryDue = false
        if !link.reportedDown {
            link.reportedDown = true
            if let reason {
                log.write(
                    .warning,
                    "Redis at \(link.addressText) is unavailable: \(reason); serving without it, retrying after "
                        + "100 ms, then twice as long each time up to 5 s")
            }
        }
        if !draining {
            ring.queueTimeout(
                after: link.backoff, storage: timeouts, index: timerEntry(.redisRetry), userData: tag(.redisRetry))
        }
        link.backoff = min(link.backoff * 2, RedisLink.maximumBackoff)
    }

    // MARK: - Counter clients

    /// A send-and-close client numbered across hosts: its INCR is queued (sent at the end of the
    /// iteration), or, with Redis down or the queue full, it is told the cluster is unavailable.
    func numberThroughCluster(_ link: RedisLink, _ descriptor: Int32, peer: Peer) {
        guard link.state != .down else {
            sendUnavailable(descriptor)
            return
        }
        guard link.incrementCounter(for: descriptor, peer: peer, now: now) else {
            statistics.clusterWaitingDropped += 1
            sendUnavailable(descriptor)
            return
        }
    }

    /// `cluster.unavailable_message`, then a close.
    func sendUnavailable(_ descriptor: Int32) {
        statistics.clusterUnavailable += 1
        sendFixedAndClose(descriptor, services.unavailableMessage.bytes)
    }

    /// At shutdown: the clients still waiting for a number are closed without one.
    func closeClusterAtShutdown() {
        guard let link = cluster else { return }
        while let pending = link.popReply() {
            if pending.kind == .incrementCounter { _ = close(pending.descriptor) }
        }
        let sockets = link.takeSockets()
        if sockets.current >= 0 { _ = close(sockets.current) }
        if sockets.retiring >= 0 { _ = close(sockets.retiring) }
    }
}

extension RedisLink {
    static func equal(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        bytes.count == text.utf8CodeUnitCount && memcmp(bytes.baseAddress!, text.utf8Start, bytes.count) == 0
    }
}

extension RESPElement {
    /// The bytes of a string element (simple, bulk, verbatim); nil for others.
    var text: UnsafeRawBufferPointer? {
        switch self {
        case .simpleString(let bytes): bytes
        case .bulkString(let bytes): bytes
        case .verbatimString(_, let text): text
        default: nil
        }
    }

    /// An error's text, for the log; nil when the element is not an error.
    var errorText: String? {
        switch self {
        case .error(let bytes), .bulkError(let bytes): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }
}
