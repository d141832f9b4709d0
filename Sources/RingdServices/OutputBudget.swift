// OutputBudget: one connection's bytes queued for sending against its cap (`io.output_limit`).
//
// Echo back-pressure: when a client sends faster than it reads, its replies pile up in the send
// queue. At the limit the server stops reading from it (the kernel's receive window then slows
// the client down), and it reads again only once the queue has drained to `resumeLevel`, half
// the limit by default, so it does not flap between paused and reading on every send. A
// broadcast asks `hasRoom(for:)` instead and skips a tick for a client that is that far behind.
//
// The event loop reports bytes as it queues them and as sends complete, and carries out the
// change returned. Pure bookkeeping: no I/O, no time.

/// Bytes queued for one connection, and whether reading is paused because of them.
public struct OutputBudget: Sendable, Equatable {
    public enum Change: Sendable, Equatable {
        case none
        /// The queue reached the limit: stop reading from this connection.
        case pauseReading
        /// The queue drained to the resume level: read again.
        case resumeReading
    }

    /// Queued bytes at which reading pauses.
    public let limit: Int
    /// Queued bytes at or below which paused reading resumes.
    public let resumeLevel: Int
    public private(set) var queuedBytes = 0
    public private(set) var isReadingPaused = false

    public init(limit: Int, resumeLevel: Int? = nil) {
        precondition(limit > 0)
        let resumeLevel = resumeLevel ?? limit / 2
        precondition((0..<limit).contains(resumeLevel), "the resume level must be below the limit")
        self.limit = limit
        self.resumeLevel = resumeLevel
    }

    /// Whether `byteCount` more bytes stay within the limit.
    public func hasRoom(for byteCount: Int) -> Bool {
        queuedBytes + byteCount <= limit
    }

    /// `byteCount` bytes were queued for sending.
    public mutating func queued(_ byteCount: Int) -> Change {
        precondition(byteCount >= 0)
        queuedBytes += byteCount
        guard !isReadingPaused, queuedBytes >= limit else { return .none }
        isReadingPaused = true
        return .pauseReading
    }

    /// `byteCount` queued bytes were sent (a send completed, perhaps short).
    public mutating func sent(_ byteCount: Int) -> Change {
        precondition(byteCount >= 0 && byteCount <= queuedBytes, "sent \(byteCount) bytes of \(queuedBytes) queued")
        queuedBytes -= byteCount
        guard isReadingPaused, queuedBytes <= resumeLevel else { return .none }
        isReadingPaused = false
        return .resumeReading
    }
}
