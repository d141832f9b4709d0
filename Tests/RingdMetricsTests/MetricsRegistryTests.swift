// The metrics text as Prometheus reads it: HELP and TYPE lines, a `worker` label on every
// per-worker series, and each value the one the worker published, rendered by swift-prometheus.

import RingdServer
import Testing

@testable import RingdMetrics

@Suite struct MetricsRegistryTests {
    /// Two workers with distinct published statistics.
    private static func status() -> ServerStatus {
        let workers = [PublishedStatistics(), PublishedStatistics()]
        var first = WorkerStatistics()
        first.accepted = 14
        first.closed = 12
        first.refusedByAccessList = 3
        first.cutOverOutputCap = 2
        first.bytesReceived = 1000
        first.bytesSent = 999
        first.connectionsOpen = 2
        first.outputQueuedBytes = 4096
        workers[0].publish(first)
        var second = WorkerStatistics()
        second.accepted = 11
        second.closed = 11
        second.bufferStarvations = 5
        second.completionOverflows = 7
        workers[1].publish(second)
        return ServerStatus(mode: .echo, taskRunMode: "deferred", addresses: ["127.0.0.1:7000"], workers: workers)
    }

    private static func lines(_ registry: MetricsRegistry) -> Set<String> {
        Set(String(decoding: registry.render(), as: UTF8.self).split(separator: "\n").map(String.init))
    }

    @Test("every series the issue names, with its worker label and the published value")
    func values() {
        let lines = Self.lines(MetricsRegistry(status: Self.status(), version: "9.9.9"))
        let expected = [
            #"ringd_connections_accepted_total{worker="0"} 14"#, #"ringd_connections_accepted_total{worker="1"} 11"#,
            #"ringd_connections_closed_total{worker="0"} 12"#,
            #"ringd_connections_refused_total{worker="0",reason="access_list"} 3"#,
            #"ringd_connections_refused_total{worker="1",reason="max_connections"} 0"#,
            #"ringd_clients_cut_total{worker="0",reason="output_cap"} 2"#,
            #"ringd_clients_cut_total{worker="0",reason="soft_cap"} 0"#,
            #"ringd_clients_cut_total{worker="0",reason="output_memory"} 0"#,
            #"ringd_bytes_received_total{worker="0"} 1000"#, #"ringd_bytes_sent_total{worker="0"} 999"#,
            #"ringd_receive_buffer_starvations_total{worker="1"} 5"#,
            #"ringd_completion_queue_overflows_total{worker="1"} 7"#,
            #"ringd_connections_open{worker="0"} 2.0"#, #"ringd_output_queued_bytes{worker="0"} 4096.0"#,
            #"ringd_reloads_total{result="applied"} 0"#, #"ringd_reloads_total{result="failed"} 0"#,
            #"ringd_build_info{version="9.9.9",mode="echo",task_run_mode="deferred"} 1.0"#,
        ]
        for line in expected { #expect(lines.contains(line), "missing: \(line)\n\(lines.sorted().joined(separator: "\n"))") }
    }

    @Test("each family has one HELP and one TYPE line")
    func helpAndType() {
        let lines = Self.lines(MetricsRegistry(status: Self.status(), version: "1"))
        for (name, type) in [
            ("ringd_connections_accepted_total", "counter"), ("ringd_connections_closed_total", "counter"),
            ("ringd_connections_refused_total", "counter"), ("ringd_clients_cut_total", "counter"),
            ("ringd_bytes_received_total", "counter"), ("ringd_bytes_sent_total", "counter"),
            ("ringd_receive_buffer_starvations_total", "counter"), ("ringd_completion_queue_overflows_total", "counter"),
            ("ringd_reloads_total", "counter"), ("ringd_connections_open", "gauge"), ("ringd_output_queued_bytes", "gauge"),
            ("ringd_build_info", "gauge"),
        ] {
            #expect(lines.contains("# TYPE \(name) \(type)"), "no TYPE line for \(name)")
            #expect(lines.contains { $0.hasPrefix("# HELP \(name) ") }, "no HELP line for \(name)")
        }
    }

    @Test("a scrape after new publications shows the new values, not their sum with the old")
    func scrapesFollowPublications() {
        let status = Self.status()
        let registry = MetricsRegistry(status: status, version: "1")
        _ = registry.render()
        var next = WorkerStatistics()
        next.accepted = 20
        status.workers[1].publish(next)
        let lines = Self.lines(registry)
        #expect(lines.contains(#"ringd_connections_accepted_total{worker="1"} 20"#))
        #expect(lines.contains(#"ringd_connections_accepted_total{worker="0"} 14"#))
    }
}
