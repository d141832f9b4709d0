// Drives echo conversations from one poll(2) loop: each client writes its payload in planned chunks
// while reading the echo back at the same time, so a large payload never deadlocks on full socket
// buffers, and any number of connections progress together on one thread.
import Glibc
import TestSupport

/// How a client splits its payload into send(2) calls.
enum WritePlan {
    /// Every write is this many bytes (the last one may be shorter).
    case fixed(Int)
    /// Each write's size is drawn log-uniformly from `range`.
    case random(SeededRandom, range: ClosedRange<Int>)
    /// Writes of exactly these sizes, in order: one per message for pipelining. A slice, so that
    /// taking the next size does not copy the rest.
    case sizes(ArraySlice<Int>)

    /// The size of the next write, given how many bytes are left.
    mutating func nextChunkSize(remaining: Int) -> Int {
        switch self {
        case .fixed(let size):
            return min(size, remaining)
        case .random(var random, let range):
            let size = random.logUniform(in: range)
            self = .random(random, range: range)
            return min(size, remaining)
        case .sizes(let sizes):
            guard let first = sizes.first else { return remaining }
            self = .sizes(sizes.dropFirst())
            return min(first, remaining)
        }
    }
}

/// One client's side of an echo conversation: what it sends, how, and what came back.
final class EchoConversation {
    let socket: TestSocket
    let payload: [UInt8]
    /// When set, the client shuts down its write side after the last byte and expects ringd to
    /// finish echoing and then close: exactly the payload, then end of stream.
    let halfClosesWhenSent: Bool
    private var plan: WritePlan
    /// Bytes of the current planned write still to go; a partial send continues it.
    private var chunkRemaining = 0
    private(set) var bytesSent = 0
    private var received: [UInt8]
    private(set) var bytesReceived = 0
    private(set) var sawEndOfStream = false
    private var hasShutDownWrite = false
    /// Why the conversation stopped early, if it did.
    private(set) var failure: String?

    /// What must come back: the payload itself, or `reply` for a service that transforms it
    /// (numbered lines).
    let expected: [UInt8]

    init(
        socket: TestSocket, payload: [UInt8], plan: WritePlan = .fixed(64 * 1024), halfClosesWhenSent: Bool = false,
        reply: [UInt8]? = nil
    ) {
        self.socket = socket
        self.payload = payload
        self.plan = plan
        self.halfClosesWhenSent = halfClosesWhenSent
        expected = reply ?? payload
        received = [UInt8](repeating: 0, count: expected.count)
    }

    var isFinished: Bool {
        if failure != nil { return true }
        if halfClosesWhenSent { return sawEndOfStream }
        return bytesReceived == expected.count
    }

    /// Whether the conversation still has bytes to send, or a write side to shut down.
    var wantsToWrite: Bool {
        bytesSent < payload.count || (halfClosesWhenSent && !hasShutDownWrite)
    }

    /// The bytes echoed back so far.
    var echoed: ArraySlice<UInt8> { received[..<bytesReceived] }

    /// nil when ringd echoed exactly the payload (and closed, for a half-close); otherwise what
    /// went wrong, with counts and the first differing offset.
    var problem: String? {
        if let failure { return failure }
        let differing = firstDifference(expected, echoed)
        if let differing {
            return "echo differs from what was expected at byte \(differing) of \(expected.count) "
                + "(expected \(expected[differing]), got \(received[differing]))"
        }
        if bytesReceived < expected.count {
            return "received \(bytesReceived) of \(expected.count) bytes"
        }
        if halfClosesWhenSent && !sawEndOfStream {
            return "no end of stream after all \(expected.count) bytes came back"
        }
        return nil
    }

    /// Called when poll reports the socket writable: sends planned chunks until the kernel pushes
    /// back, at most a few per call so that all connections get a turn.
    func sendPlannedChunks() {
        do {
            for _ in 0..<16 where bytesSent < payload.count {
                if chunkRemaining == 0 {
                    chunkRemaining = plan.nextChunkSize(remaining: payload.count - bytesSent)
                }
                let sent = try payload.withUnsafeBytes {
                    try socket.sendSome(UnsafeRawBufferPointer(rebasing: $0[bytesSent..<bytesSent + chunkRemaining]))
                }
                guard let sent else { return }
                bytesSent += sent
                chunkRemaining -= sent
            }
            if bytesSent == payload.count && halfClosesWhenSent && !hasShutDownWrite {
                hasShutDownWrite = true
                try socket.shutdownWrite()
            }
        } catch {
            failure = "after sending \(bytesSent) and receiving \(bytesReceived) of \(expected.count) bytes: \(error)"
        }
    }

    /// Called when poll reports the socket readable (or hung up): receives what is there.
    func receiveAvailable() {
        do {
            if bytesReceived < expected.count {
                let outcome = try received.withUnsafeMutableBytes {
                    try socket.receiveSome(into: UnsafeMutableRawBufferPointer(rebasing: $0[bytesReceived...]))
                }
                switch outcome {
                case .bytes(let count): bytesReceived += count
                case .wouldBlock: break
                case .endOfStream:
                    sawEndOfStream = true
                    failure = "end of stream after \(bytesReceived) of \(expected.count) bytes came back "
                        + "(\(bytesSent) sent)"
                }
            } else {
                var extra = [UInt8](repeating: 0, count: 4096)
                switch try extra.withUnsafeMutableBytes({ try socket.receiveSome(into: $0) }) {
                case .bytes(let count): failure = "\(count) byte(s) more than the \(expected.count) expected came back"
                case .wouldBlock: break
                case .endOfStream: sawEndOfStream = true
                }
            }
        } catch {
            failure = "after sending \(bytesSent) and receiving \(bytesReceived) of \(expected.count) bytes: \(error)"
        }
    }

    /// Marks the conversation failed because nothing happened on any connection for a while.
    func stalled(for idleTimeout: Duration) {
        failure = "no progress for \(idleTimeout): sent \(bytesSent), received \(bytesReceived) of \(expected.count) bytes"
            + (hasShutDownWrite ? " after shutting down the write side" : "")
    }
}

enum EchoExchange {
    /// Runs `conversations` to completion from one poll loop. It gives up, marking the unfinished
    /// conversations failed, when no connection makes progress for `idleTimeout`, so a stuck server
    /// fails the test however large the payloads are.
    static func run(_ conversations: [EchoConversation], idleTimeout: Duration = .seconds(20)) {
        var entries: [pollfd] = []
        var active: [EchoConversation] = []
        while true {
            active.removeAll(keepingCapacity: true)
            entries.removeAll(keepingCapacity: true)
            for conversation in conversations where !conversation.isFinished {
                let events = Int16(POLLIN) | (conversation.wantsToWrite ? Int16(POLLOUT) : 0)
                active.append(conversation)
                entries.append(pollfd(fd: conversation.socket.descriptor, events: events, revents: 0))
            }
            if active.isEmpty { return }
            let deadline = Deadline(after: idleTimeout)
            let ready = poll(&entries, nfds_t(entries.count), deadline.remainingMilliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                active.forEach { $0.stalled(for: .zero) }
                return
            }
            if ready == 0 {
                active.forEach { $0.stalled(for: idleTimeout) }
                return
            }
            for (conversation, entry) in zip(active, entries) where entry.revents != 0 {
                if entry.revents & Int16(POLLOUT) != 0 {
                    conversation.sendPlannedChunks()
                }
                if entry.revents & (Int16(POLLIN) | Int16(POLLHUP) | Int16(POLLERR)) != 0 {
                    conversation.receiveAvailable()
                }
            }
        }
    }

    /// Echoes `payload` over `socket` and returns nil, or what went wrong.
    static func problem(echoing payload: [UInt8], over socket: TestSocket, plan: WritePlan = .fixed(64 * 1024)) -> String? {
        let conversation = EchoConversation(socket: socket, payload: payload, plan: plan)
        run([conversation])
        return conversation.problem
    }

    /// The problems of `conversations`, each labelled with its index, for one summarising
    /// expectation instead of hundreds.
    static func problems(of conversations: [EchoConversation]) -> [String] {
        conversations.enumerated().compactMap { index, conversation in
            conversation.problem.map { "connection \(index) (\(conversation.payload.count) bytes): \($0)" }
        }
    }
}

/// The first offset where `received` differs from `sent`, looking only at the received bytes.
func firstDifference(_ sent: [UInt8], _ received: ArraySlice<UInt8>) -> Int? {
    let count = min(sent.count, received.count)
    let equal = sent.withUnsafeBytes { sentBytes in
        received.withUnsafeBytes { receivedBytes in
            count == 0 || memcmp(sentBytes.baseAddress!, receivedBytes.baseAddress!, count) == 0
        }
    }
    if equal { return nil }
    return (0..<count).first { sent[$0] != received[received.startIndex + $0] }
}

extension EchoConversation {
    /// One connection to `endpoint` per entry of `payloadSizes`, each with that many random bytes
    /// to send in random writes of `writeSizes` bytes; all drawn from `random`.
    static func open(
        to endpoint: Endpoint, payloadSizes: [Int], writeSizes: ClosedRange<Int>, random: inout SeededRandom
    ) throws -> [EchoConversation] {
        try payloadSizes.map { size in
            let socket = try TestSocket(connectingTo: endpoint)
            let plan = WritePlan.random(SeededRandom(seed: random.next()), range: writeSizes)
            return EchoConversation(socket: socket, payload: random.bytes(count: size), plan: plan)
        }
    }
}
