// ErrorLog: the data errors a worker saw, counted by kind, with the first few described in full
// so the summary can say exactly what went wrong and where.

/// Kinds of error a benchmark can see. Every one makes the run exit with status 2.
enum DataErrorKind: Int, CaseIterable, Sendable {
    /// A received byte differs from the byte sent at that position of the stream.
    case mismatch
    /// More bytes came back than were sent.
    case extraBytes
    /// The server closed a connection that the benchmark still needed.
    case earlyClose
    /// A recv or send failed: reset, broken pipe, timeout.
    case reset
    /// Bytes were owed and none arrived for --timeout.
    case stalled
    /// A connect failed (refused, unreachable, out of ports).
    case connectFailed
    /// Connect mode: the server closed without sending anything.
    case emptyReply
    /// Connect mode with --check-increasing: a reply without a decimal number.
    case malformed
    /// Connect mode with --check-increasing: a value not above the loop's previous one.
    case notIncreasing
    /// Connect mode with --check-increasing: the same value handed out twice.
    case duplicate
    /// Broadcast or relay: sequence numbers skipped, lines lost.
    case gap
    /// Broadcast or relay: a sequence number at or below one already seen.
    case reordered
    /// Relay: lines a client could not send because its backlog was full.
    case sendBacklog

    /// The key in the summary and in --json.
    var name: String {
        switch self {
        case .mismatch: "mismatch"
        case .extraBytes: "extra_bytes"
        case .earlyClose: "early_close"
        case .reset: "reset"
        case .stalled: "stalled"
        case .connectFailed: "connect_failed"
        case .emptyReply: "empty_reply"
        case .malformed: "malformed"
        case .notIncreasing: "not_increasing"
        case .duplicate: "duplicate"
        case .gap: "lost"
        case .reordered: "reordered"
        case .sendBacklog: "send_backlog"
        }
    }
}

struct ErrorLog: Sendable {
    /// How many full descriptions are kept; later errors are only counted.
    static let describedLimit = 5

    private(set) var counts = [UInt64](repeating: 0, count: DataErrorKind.allCases.count)
    private(set) var descriptions: [String] = []
    /// Times `record` was called (one call may count several errors, e.g. 4 lost lines).
    private(set) var events: UInt64 = 0

    var total: UInt64 { counts.reduce(0, +) }

    func count(of kind: DataErrorKind) -> UInt64 { counts[kind.rawValue] }

    /// Counts one error; `describe` runs only for the first few, so the hot path never formats.
    mutating func record(_ kind: DataErrorKind, amount: UInt64 = 1, _ describe: () -> String) {
        counts[kind.rawValue] += amount
        events += 1
        if descriptions.count < ErrorLog.describedLimit { descriptions.append(describe()) }
    }

    mutating func merge(_ other: ErrorLog) {
        for index in counts.indices { counts[index] += other.counts[index] }
        events += other.events
        for description in other.descriptions where descriptions.count < ErrorLog.describedLimit * 2 {
            descriptions.append(description)
        }
    }
}
