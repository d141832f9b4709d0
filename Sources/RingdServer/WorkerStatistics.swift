// Statistics as data: what each worker counts, and how another thread reads it while ringd runs.
//
// A worker counts in plain memory, one increment per event and nothing shared. Every sweep (at
// most a second apart) and when it stops, it publishes a copy into its `PublishedStatistics`:
// one relaxed atomic store per field, so a reader on another thread (metrics, a test) never
// takes a lock a worker waits on, and a worker never waits for a reader. A snapshot is each
// field as of some publication; fields are not read at one instant together.

import RingdSystem
import Synchronization

/// One worker's counters and gauges.
public struct WorkerStatistics: Sendable, Equatable, CustomStringConvertible {
    public var accepted = 0
    public var closed = 0
    public var refusedTableFull = 0
    public var refusedByAccessList = 0
    /// Closed after `idle_timeout` without input.
    public var closedIdle = 0
    public var bufferStarvations = 0
    /// Bytes received into the bulk buffers (raw echo's streaming clients); part of `bytesReceived`.
    public var bulkBytesReceived = 0
    public var acceptFailures = 0
    /// Clients cut off, one counter per `CutReason`.
    public var cutOverOutputCap = 0
    public var cutOverSoftCap = 0
    public var cutOutputMemoryFull = 0
    /// Connections still open when `server.drain_timeout` ran out, closed at once (also in `closed`).
    public var closedAtDrainDeadline = 0
    /// Output that could not be rendered because the arena or the segment pool was full.
    public var outputExhausted = 0
    /// Relay lines posted to another worker that it could not take: its inbox was full.
    public var relayPostsDropped = 0
    /// Private relay lines (/msg) from another worker whose target left before they arrived.
    public var relayPrivateLinesDropped = 0
    public var messageFailures = 0
    /// Iterations that found completions parked by the kernel because the queue was full; they
    /// come through on the next enter (IORING_FEAT_NODROP). Raise io.completion_entries if many.
    public var completionOverflows = 0
    /// Completions the kernel could not even park (ring's koverflow): 0 unless it ran out of memory.
    public var completionsDropped = 0
    /// Closes, shutdowns, cancels and sends-and-closes that failed, by what failed: they need no
    /// answer, but are counted rather than dropped unseen.
    public var failedCloses = 0
    public var failedShutdowns = 0
    public var failedCancels = 0
    public var failedGreetSends = 0
    /// Completions whose operation this worker does not know; 0 unless the user data is corrupt.
    public var unknownCompletions = 0
    public var bytesReceived = 0
    public var bytesSent = 0
    /// The cluster's Redis: connections that completed HELLO, and ones lost after that.
    public var clusterConnects = 0
    public var clusterDisconnects = 0
    /// Clients told `cluster.unavailable_message` (Redis down, or its reply lost), and of them
    /// the ones turned away because the worker's queue for Redis was full.
    public var clusterUnavailable = 0
    public var clusterWaitingDropped = 0
    /// Messages on the cluster channel handed to the service, and ones dropped as too long for
    /// an output chunk or `io.output_cap` (one that finds output memory full counts in
    /// `outputExhausted`).
    public var upstreamMessages = 0
    public var upstreamDropped = 0
    /// Lines a service published (relay) that could not leave the host: Redis was down, or the
    /// worker's queue for it was full.
    public var clusterLinesUnpublished = 0
    /// Requests (a relay /nick, /msg or /who through Redis, a name's release or refresh) that
    /// failed because Redis was down, its queue full, or the connection lost before the answer.
    public var clusterRequestsFailed = 0
    /// Relay names found taken on another host when refreshed or claimed again after a
    /// reconnect; each holder was renamed to its default name.
    public var clusterNamesLost = 0
    /// Gauges, as of the publication: connections open, bytes queued to send, free output chunks.
    public var connectionsOpen = 0
    public var outputQueuedBytes = 0
    public var freeOutputChunks = 0

    public init() {}

    /// Every field, by the name it has in JSON and in the published copy, in a fixed order.
    /// (`nonisolated(unsafe)`: key paths are immutable, but not marked Sendable.)
    nonisolated(unsafe) static let fields: [(name: String, path: WritableKeyPath<WorkerStatistics, Int>)] = [
        ("accepted", \.accepted), ("closed", \.closed), ("refused_table_full", \.refusedTableFull),
        ("refused_by_access_list", \.refusedByAccessList), ("closed_idle", \.closedIdle),
        ("buffer_starvations", \.bufferStarvations), ("bulk_bytes_received", \.bulkBytesReceived),
        ("accept_failures", \.acceptFailures),
        ("cut_output_cap", \.cutOverOutputCap), ("cut_soft_cap", \.cutOverSoftCap),
        ("cut_output_memory_full", \.cutOutputMemoryFull), ("closed_at_drain_deadline", \.closedAtDrainDeadline),
        ("output_exhausted", \.outputExhausted), ("relay_posts_dropped", \.relayPostsDropped),
        ("relay_private_lines_dropped", \.relayPrivateLinesDropped), ("message_failures", \.messageFailures),
        ("completion_overflows", \.completionOverflows),
        ("completions_dropped", \.completionsDropped), ("failed_closes", \.failedCloses),
        ("failed_shutdowns", \.failedShutdowns), ("failed_cancels", \.failedCancels),
        ("failed_greet_sends", \.failedGreetSends), ("unknown_completions", \.unknownCompletions),
        ("bytes_received", \.bytesReceived), ("bytes_sent", \.bytesSent),
        ("cluster_connects", \.clusterConnects), ("cluster_disconnects", \.clusterDisconnects),
        ("cluster_unavailable", \.clusterUnavailable), ("cluster_waiting_dropped", \.clusterWaitingDropped),
        ("upstream_messages", \.upstreamMessages), ("upstream_dropped", \.upstreamDropped),
        ("cluster_lines_unpublished", \.clusterLinesUnpublished), ("cluster_requests_failed", \.clusterRequestsFailed),
        ("cluster_names_lost", \.clusterNamesLost),
        ("connections_open", \.connectionsOpen), ("output_queued_bytes", \.outputQueuedBytes),
        ("free_output_chunks", \.freeOutputChunks),
    ]

    /// `{"accepted":4,"closed":4,...}`, every field, in `fields` order.
    public var json: String {
        "{" + Self.fields.map { "\"\($0.name)\":\(self[keyPath: $0.path])" }.joined(separator: ",") + "}"
    }

    /// The line each worker logs when it stops.
    public var description: String {
        "accepted \(accepted), closed \(closed), closed idle \(closedIdle), refused by access list \(refusedByAccessList), "
            + "refused with every slot taken \(refusedTableFull), cut over output cap \(cutOverOutputCap), "
            + "cut over soft cap \(cutOverSoftCap), cut with output memory full \(cutOutputMemoryFull), "
            + "closed at drain deadline \(closedAtDrainDeadline), "
            + "output memory exhausted \(outputExhausted), receive buffers ran out \(bufferStarvations) times, "
            + "accept failures \(acceptFailures), relay posts dropped \(relayPostsDropped), "
            + "private lines for clients gone \(relayPrivateLinesDropped), ring messages failed \(messageFailures), "
            + "completion queue overflowed \(completionOverflows) times, completions dropped \(completionsDropped)"
    }
}

/// The copy of one worker's statistics that other threads read; see the file comment.
public final class PublishedStatistics: @unchecked Sendable {
    // @unchecked: the pointer is set once; every access to what it points to is atomic.
    private let values: UnsafeMutablePointer<Atomic<Int>>
    private let count = WorkerStatistics.fields.count
    /// CoarseClock at the owning worker's last publication, its loop's heartbeat; until the
    /// first, the time this copy was made, before the worker started.
    private let publishedAt = Atomic<UInt32>(CoarseClock.milliseconds())

    package init() {
        values = .allocate(capacity: count)
        for index in 0..<count { (values + index).initialize(to: Atomic(0)) }
    }

    deinit {
        values.deinitialize(count: count)
        values.deallocate()
    }

    /// Called by the owning worker only (and by tests, standing in for one).
    package func publish(_ statistics: WorkerStatistics) {
        for (index, field) in WorkerStatistics.fields.enumerated() {
            values[index].store(statistics[keyPath: field.path], ordering: .relaxed)
        }
        publishedAt.store(CoarseClock.milliseconds(), ordering: .relaxed)
    }

    /// When the owning worker last published, on CoarseClock; compare with wrapping subtraction.
    public var lastPublished: UInt32 { publishedAt.load(ordering: .relaxed) }

    /// The last published statistics; from any thread.
    public var snapshot: WorkerStatistics {
        var statistics = WorkerStatistics()
        for (index, field) in WorkerStatistics.fields.enumerated() {
            statistics[keyPath: field.path] = values[index].load(ordering: .relaxed)
        }
        return statistics
    }
}
