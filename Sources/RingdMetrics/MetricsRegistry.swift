// MetricsRegistry: ringd's metrics as one swift-prometheus registry, made once when the endpoint
// starts. A scrape sets every series from the workers' latest publications (ServerStatus: relaxed
// atomic loads, no lock a worker waits on) and emits the registry in the Prometheus text format,
// with its HELP and TYPE lines.
//
// Counters come from each worker's own counts, so they carry a `worker` label; sum over it for
// the process. A swift-prometheus Counter only counts up, so a scrape resets each one and adds
// the published value: the registry belongs to the metrics thread alone, and nothing reads it
// between the two.

import Prometheus
import RingdServer

/// One metric family: its name, help, and one series per label set, read from a worker's statistics.
private struct WorkerFamily {
    enum Kind { case counter, gauge }
    let name: String
    let kind: Kind
    let help: String
    let series: [(labels: [(String, String)], field: KeyPath<WorkerStatistics, Int> & Sendable)]

    init(
        _ name: String, _ kind: Kind, _ help: String,
        _ series: [(labels: [(String, String)], field: KeyPath<WorkerStatistics, Int> & Sendable)]
    ) {
        self.name = name
        self.kind = kind
        self.help = help
        self.series = series
    }

    init(_ name: String, _ kind: Kind, _ help: String, _ field: KeyPath<WorkerStatistics, Int> & Sendable) {
        self.init(name, kind, help, [([], field)])
    }
}

/// Every per-worker metric ringd exports, and the statistics field each series reads.
private let workerFamilies: [WorkerFamily] = [
    WorkerFamily("ringd_connections_accepted_total", .counter, "Connections accepted.", \.accepted),
    WorkerFamily("ringd_connections_closed_total", .counter, "Connections closed, for any reason.", \.closed),
    WorkerFamily(
        "ringd_connections_refused_total", .counter,
        "Connections closed as soon as they were accepted: every slot taken (server.max_connections) or refused by [access].",
        [([("reason", "max_connections")], \.refusedTableFull), ([("reason", "access_list")], \.refusedByAccessList)]),
    WorkerFamily(
        "ringd_connections_closed_idle_total", .counter, "Connections closed after server.idle_timeout without input.",
        \.closedIdle),
    WorkerFamily(
        "ringd_connections_closed_at_drain_deadline_total", .counter,
        "Connections still open when server.drain_timeout ran out, closed at once.", \.closedAtDrainDeadline),
    WorkerFamily(
        "ringd_clients_cut_total", .counter, "Clients cut off with a reset because their queued output grew too large.",
        [
            ([("reason", "output_cap")], \.cutOverOutputCap), ([("reason", "soft_cap")], \.cutOverSoftCap),
            ([("reason", "output_memory")], \.cutOutputMemoryFull),
        ]),
    WorkerFamily("ringd_bytes_received_total", .counter, "Bytes received from clients.", \.bytesReceived),
    WorkerFamily("ringd_bytes_sent_total", .counter, "Bytes sent to clients.", \.bytesSent),
    WorkerFamily(
        "ringd_receive_buffer_starvations_total", .counter,
        "Times the provided receive buffers ran out (io.buffer_count); reading resumes as buffers return.",
        \.bufferStarvations),
    WorkerFamily(
        "ringd_bulk_bytes_received_total", .counter,
        "Raw echo: bytes received into the large buffers a streaming client reads into (io.bulk_buffer_count); part of ringd_bytes_received_total.",
        \.bulkBytesReceived),
    WorkerFamily(
        "ringd_completion_queue_overflows_total", .counter,
        "Loop iterations that met completions the kernel parked because the completion queue was full (io.completion_entries).",
        \.completionOverflows),
    WorkerFamily(
        "ringd_completions_dropped_total", .counter, "Completions the kernel could not even park; 0 unless it ran out of memory.",
        \.completionsDropped),
    WorkerFamily(
        "ringd_accept_failures_total", .counter, "Accepts that failed, such as when descriptors ran out.", \.acceptFailures),
    WorkerFamily(
        "ringd_output_exhausted_total", .counter, "Outputs that could not be rendered because io.output_memory was full.",
        \.outputExhausted),
    WorkerFamily(
        "ringd_relay_posts_dropped_total", .counter, "Relay lines another worker could not take: its inbox was full.",
        \.relayPostsDropped),
    WorkerFamily(
        "ringd_relay_private_lines_dropped_total", .counter,
        "Private relay lines (/msg) from another worker whose target left before they arrived.", \.relayPrivateLinesDropped),
    WorkerFamily(
        "ringd_failed_operations_total", .counter, "Operations that failed and need no answer, by operation.",
        [
            ([("operation", "close")], \.failedCloses), ([("operation", "shutdown")], \.failedShutdowns),
            ([("operation", "cancel")], \.failedCancels), ([("operation", "greet_send")], \.failedGreetSends),
            ([("operation", "ring_message")], \.messageFailures),
        ]),
    WorkerFamily(
        "ringd_cluster_connections_total", .counter,
        "Connections to the cluster's Redis that completed HELLO (made), and ones lost after that (lost).",
        [([("event", "made")], \.clusterConnects), ([("event", "lost")], \.clusterDisconnects)]),
    WorkerFamily(
        "ringd_cluster_unavailable_total", .counter,
        "Clients sent cluster.unavailable_message: Redis was down, its reply was lost, or the queue for it was full.",
        \.clusterUnavailable),
    WorkerFamily(
        "ringd_cluster_queue_full_total", .counter,
        "Of those, clients turned away because the worker's queue of commands for Redis was full.", \.clusterWaitingDropped),
    WorkerFamily(
        "ringd_cluster_channel_messages_total", .counter,
        "Messages on the cluster channel: delivered to the service, or dropped as longer than an output chunk or io.output_cap.",
        [([("result", "delivered")], \.upstreamMessages), ([("result", "dropped")], \.upstreamDropped)]),
    WorkerFamily(
        "ringd_cluster_lines_unpublished_total", .counter,
        "Relay lines that could not leave this host: Redis was down, or the worker's queue for it was full.",
        \.clusterLinesUnpublished),
    WorkerFamily(
        "ringd_cluster_requests_failed_total", .counter,
        "Relay requests to Redis (/nick, /msg, /who, a name's release) that failed: Redis down, queue full, or connection lost.",
        \.clusterRequestsFailed),
    WorkerFamily(
        "ringd_cluster_names_lost_total", .counter,
        "Relay names found taken on another host after an outage; each holder was renamed to its default name.",
        \.clusterNamesLost),
    WorkerFamily("ringd_connections_open", .gauge, "Connections open.", \.connectionsOpen),
    WorkerFamily("ringd_output_queued_bytes", .gauge, "Bytes queued to send, over all connections.", \.outputQueuedBytes),
    WorkerFamily("ringd_free_output_chunks", .gauge, "Free chunks of the worker's output memory.", \.freeOutputChunks),
]

/// A metric's full name and help text, as swift-prometheus takes them.
private func describe(_ name: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
}

/// The registry and the handles a scrape updates. Used by the metrics thread only.
final class MetricsRegistry {
    private let registry = PrometheusCollectorRegistry()
    private let status: ServerStatus
    /// By worker: each series' metric and the field it reads.
    private var counters: [[(Counter, KeyPath<WorkerStatistics, Int> & Sendable)]] = []
    private var gauges: [[(Gauge, KeyPath<WorkerStatistics, Int> & Sendable)]] = []
    private let reloadsApplied: Counter
    private let reloadsFailed: Counter
    private var buffer: [UInt8] = []

    init(status: ServerStatus, version: String) {
        self.status = status
        for worker in status.workers.indices {
            var workerCounters: [(Counter, KeyPath<WorkerStatistics, Int> & Sendable)] = []
            var workerGauges: [(Gauge, KeyPath<WorkerStatistics, Int> & Sendable)] = []
            for family in workerFamilies {
                for series in family.series {
                    let labels = [("worker", String(worker))] + series.labels
                    switch family.kind {
                    case .counter:
                        workerCounters.append(
                            (registry.makeCounter(descriptor: describe(family.name, family.help), labels: labels), series.field))
                    case .gauge:
                        workerGauges.append(
                            (registry.makeGauge(descriptor: describe(family.name, family.help), labels: labels), series.field))
                    }
                }
            }
            counters.append(workerCounters)
            gauges.append(workerGauges)
        }
        let reloads = describe(
            "ringd_reloads_total", "SIGHUPs, by result: applied, or failed (the running configuration stayed).")
        reloadsApplied = registry.makeCounter(descriptor: reloads, labels: [("result", "applied")])
        reloadsFailed = registry.makeCounter(descriptor: reloads, labels: [("result", "failed")])
        let buildInfo = describe(
            "ringd_build_info", "Always 1; the labels say which ringd runs: its version, mode and io_uring task-running mode.")
        registry.makeGauge(
            descriptor: buildInfo,
            labels: [("version", version), ("mode", status.mode.rawValue), ("task_run_mode", status.taskRunMode)]
        ).set(to: 1)
        registry.makeGauge(descriptor: describe("ringd_workers", "Worker threads, each with its own ring."))
            .set(to: Double(status.workers.count))
        if let cluster = status.cluster {
            let clusterInfo = describe(
                "ringd_cluster_info",
                "Always 1, with [cluster] redis: this process's node (cluster.node), its key prefix and the Redis it shares.")
            registry.makeGauge(
                descriptor: clusterInfo, labels: [("node", cluster.node), ("prefix", cluster.prefix), ("redis", cluster.redis)]
            ).set(to: 1)
        }
    }

    /// The Prometheus text format for the workers' latest publications.
    func render() -> [UInt8] {
        for (worker, published) in status.workers.enumerated() {
            let statistics = published.snapshot
            for (counter, field) in counters[worker] {
                counter.reset()
                counter.increment(by: Int64(statistics[keyPath: field]))
            }
            for (gauge, field) in gauges[worker] { gauge.set(to: Double(statistics[keyPath: field])) }
        }
        reloadsApplied.reset()
        reloadsApplied.increment(by: Int64(status.reloadsApplied))
        reloadsFailed.reset()
        reloadsFailed.increment(by: Int64(status.reloadsFailed))
        buffer.removeAll(keepingCapacity: true)
        registry.emit(into: &buffer)
        return buffer
    }
}
