// ScrapeLoop: the metrics thread's poll(2) loop over the listener, the stop eventfd and a fixed
// table of scraper connections (see MetricsEndpoint for the bounds it keeps).

import RingdSystem

#if canImport(Glibc)
    import Glibc
#endif

/// One scraper connection, from accept to close.
private struct Scraper {
    enum Phase {
        /// Reading the request head.
        case reading
        /// Sending the response, from `sent`.
        case writing
        /// The response is sent and the write side shut: reading and dropping what the client
        /// still sends, until it closes, so that it reads the response rather than a reset.
        case discarding
    }

    var descriptor: Int32 = -1
    var phase = Phase.reading
    var request: [UInt8] = []
    var response: [UInt8] = []
    var sent = 0
    var discarded = 0
    /// CLOCK_MONOTONIC nanoseconds after which the connection is closed, whatever its phase.
    var deadline: UInt64 = 0

    var isOpen: Bool { descriptor >= 0 }
}

final class ScrapeLoop: @unchecked Sendable {
    // @unchecked: handed to the metrics thread once, and used by it alone.
    private let listener: Int32
    private let stopSignal: Int32
    private let registry: MetricsRegistry
    private var scrapers = [Scraper](repeating: Scraper(), count: MetricsEndpoint.scraperCapacity)
    private var pollSet = [pollfd](repeating: pollfd(), count: MetricsEndpoint.scraperCapacity + 2)
    private var readBuffer = [UInt8](repeating: 0, count: 16384)

    init(listener: Int32, stopSignal: Int32, registry: MetricsRegistry) {
        self.listener = listener
        self.stopSignal = stopSignal
        self.registry = registry
    }

    func run() {
        while true {
            pollSet[0] = pollfd(fd: stopSignal, events: Int16(POLLIN), revents: 0)
            pollSet[1] = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            for (index, scraper) in scrapers.enumerated() {
                let events = scraper.phase == .writing ? POLLOUT : POLLIN
                pollSet[index + 2] = pollfd(fd: scraper.isOpen ? scraper.descriptor : -1, events: Int16(events), revents: 0)
            }
            let ready = poll(&pollSet, nfds_t(pollSet.count), timeoutMilliseconds())
            if ready < 0 && errno != EINTR { preconditionFailure("poll failed: \(errno)") }
            if pollSet[0].revents != 0 { break }
            let now = monotonicNanoseconds()
            for index in scrapers.indices where scrapers[index].isOpen {
                if pollSet[index + 2].revents != 0 { advance(index, now: now) }
                if scrapers[index].isOpen && now >= scrapers[index].deadline { close(index) }
            }
            if pollSet[1].revents != 0 { acceptAll(now: now) }
        }
        for index in scrapers.indices where scrapers[index].isOpen { close(index) }
    }

    /// Until the nearest deadline; forever when no scraper is connected.
    private func timeoutMilliseconds() -> Int32 {
        guard let nearest = scrapers.lazy.filter(\.isOpen).map(\.deadline).min() else { return -1 }
        let now = monotonicNanoseconds()
        return nearest <= now ? 0 : Int32(clamping: (nearest - now) / 1_000_000 + 1)
    }

    /// Accepts what is waiting, a bounded number per round so that serving goes on under a storm.
    private func acceptAll(now: UInt64) {
        for _ in 0..<64 {
            // accept(2) and two fcntls: Swift's Glibc module hides accept4, and this is no hot path.
            let descriptor = accept(listener, nil, nil)
            guard descriptor >= 0 else { return }  // EAGAIN, or a failure that the next round meets again
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            _ = fcntl(descriptor, F_SETFL, O_NONBLOCK)
            let slot = scrapers.firstIndex { !$0.isOpen } ?? evictionCandidate()
            if scrapers[slot].isOpen { close(slot) }
            scrapers[slot] = Scraper(descriptor: descriptor, deadline: now + MetricsEndpoint.readDeadline)
            scrapers[slot].request.reserveCapacity(1024)
            advance(slot, now: now)  // its request may be there already
        }
    }

    /// The connection closest to its deadline: the one that has had the longest to finish.
    private func evictionCandidate() -> Int {
        scrapers.indices.min { scrapers[$0].deadline < scrapers[$1].deadline }!
    }

    private func advance(_ index: Int, now: UInt64) {
        switch scrapers[index].phase {
        case .reading: read(index, now: now)
        case .writing: write(index)
        case .discarding: discard(index)
        }
    }

    private func read(_ index: Int, now: UInt64) {
        let room = ScrapeRequest.headLimit - scrapers[index].request.count
        let count = recv(scrapers[index].descriptor, &readBuffer, min(room, readBuffer.count), 0)
        if count < 0 {
            if errno != EAGAIN && errno != EINTR { close(index) }
            return
        }
        if count == 0 {
            close(index)  // the scraper gave up before finishing its request
            return
        }
        scrapers[index].request.append(contentsOf: readBuffer[..<count])
        let request = ScrapeRequest(scrapers[index].request)
        guard request != .incomplete else { return }
        scrapers[index].response = request.response { registry.render() }
        scrapers[index].request = []
        scrapers[index].phase = .writing
        scrapers[index].deadline = now + MetricsEndpoint.writeDeadline
        write(index)
    }

    private func write(_ index: Int) {
        let scraper = scrapers[index]
        let count = scraper.response.withUnsafeBytes { bytes in
            send(scraper.descriptor, bytes.baseAddress! + scraper.sent, bytes.count - scraper.sent, Int32(MSG_NOSIGNAL))
        }
        if count < 0 {
            if errno != EAGAIN && errno != EINTR { close(index) }
            return
        }
        scrapers[index].sent += count
        guard scrapers[index].sent == scraper.response.count else { return }
        scrapers[index].response = []
        _ = shutdown(scraper.descriptor, Int32(SHUT_WR))
        scrapers[index].phase = .discarding
        discard(index)
    }

    private func discard(_ index: Int) {
        while true {
            let count = recv(scrapers[index].descriptor, &readBuffer, readBuffer.count, 0)
            if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
            guard count > 0 else { break }  // the client closed, or the connection failed
            scrapers[index].discarded += count
            if scrapers[index].discarded > MetricsEndpoint.discardLimit { break }
        }
        close(index)
    }

    private func close(_ index: Int) {
        _ = Glibc.close(scrapers[index].descriptor)
        scrapers[index] = Scraper()
    }
}
