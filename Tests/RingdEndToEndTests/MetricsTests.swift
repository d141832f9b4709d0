// metrics.listen: GET /metrics on the release ringd answers the Prometheus text format with
// exact counts after a known load (the same the workers report at exit), other paths get 404,
// a port in use stops ringd up front, and hostile scrapers (slowloris, a 1 MiB request line,
// 10,000 requests in a row) neither delay serving nor keep a prompt scraper out.
import Foundation
import Glibc
import TestSupport
import Testing

@Suite("Metrics endpoint")
struct MetricsTests {
    private static func startRingd(_ extra: [String] = []) throws -> RunningRingd {
        try RunningRingd(extraArguments: ["--workers", "2", "--set", "metrics.listen=127.0.0.1:0"] + extra)
    }

    @Test("25 echo clients and 3 refused ones: the scrape counts exactly them, as --stats-json does at exit")
    func exactCountsAfterAKnownLoad() throws {
        let ringd = try Self.startRingd(["--set", #"access.deny=["127.0.0.2/32"]"#])
        defer { ringd.stop() }
        let metrics = try ringd.requireMetricsEndpoint()
        #expect(ringd.child.standardOutput.contains("ringd: metrics listening on 127.0.0.1:\(metrics.port)\n"))

        var bytes = 0
        for client in 0..<25 {
            let connection = try LineConnection(connectingTo: ringd.endpoint)
            let line = "client \(client) says hello\n"
            try connection.send(line)
            #expect(try connection.readLineText() == line)
            bytes += line.utf8.count
            connection.socket.close()
        }
        for _ in 0..<3 {
            let (received, _) = try SourceBoundClient.connectAndReadToEnd(from: "127.0.0.2", to: ringd.endpoint)
            #expect(received.isEmpty)
        }

        let sample = try MetricsSample.scrape(metrics) { sample in
            sample.total("ringd_connections_closed_total") == 25
                && sample.total("ringd_connections_refused_total", #"reason="access_list""#) == 3
        }
        #expect(sample.total("ringd_connections_accepted_total") == 25, "\(sample.text)")
        #expect(sample.total("ringd_connections_open") == 0, "\(sample.text)")
        #expect(sample.total("ringd_connections_refused_total", #"reason="max_connections""#) == 0, "\(sample.text)")
        #expect(sample.total("ringd_bytes_received_total") == bytes, "\(sample.text)")
        #expect(sample.total("ringd_bytes_sent_total") == bytes, "\(sample.text)")
        #expect(sample.total("ringd_clients_cut_total") == 0, "\(sample.text)")
        #expect(sample.total("ringd_output_queued_bytes") == 0, "\(sample.text)")
        #expect(sample.total("ringd_reloads_total") == 0, "\(sample.text)")
        #expect(sample.workers(of: "ringd_connections_accepted_total") == ["0", "1"], "\(sample.text)")
        #expect(
            sample.values.keys.contains { $0.hasPrefix("ringd_build_info{") && $0.contains(#"mode="echo""#) }, "\(sample.text)")
        #expect(!sample.text.contains("ringd_cluster_info"), "a host on its own has no cluster node\n\(sample.text)")
        for name in [
            "ringd_connections_accepted_total", "ringd_connections_closed_total", "ringd_connections_refused_total",
            "ringd_clients_cut_total", "ringd_bytes_received_total", "ringd_bytes_sent_total",
            "ringd_receive_buffer_starvations_total", "ringd_completion_queue_overflows_total", "ringd_reloads_total",
        ] {
            #expect(sample.text.contains("# TYPE \(name) counter\n"), "no TYPE line for \(name)\n\(sample.text)")
            #expect(sample.text.contains("# HELP \(name) "), "no HELP line for \(name)\n\(sample.text)")
        }
        for name in ["ringd_connections_open", "ringd_output_queued_bytes", "ringd_build_info"] {
            #expect(sample.text.contains("# TYPE \(name) gauge\n"), "no TYPE line for \(name)\n\(sample.text)")
        }

        let counters = try ringd.child.terminateAndReadCounters()
        #expect(counters.node == nil, "\(counters.lines)")
        #expect(counters.total("accepted") == 25 && counters.total("refused_by_access_list") == 3, "\(counters.lines)")
        #expect(counters.total("bytes_received") == bytes, "\(counters.lines)")
    }

    @Test("other paths get 404, other methods 405, HEAD the headers alone, a bad request line 400")
    func otherRequests() throws {
        let ringd = try Self.startRingd()
        defer { ringd.stop() }
        let metrics = try ringd.requireMetricsEndpoint()

        #expect(try HTTPReply.get("/", from: metrics).statusLine == "HTTP/1.1 404 Not Found")
        #expect(try HTTPReply.get("/metrics/x", from: metrics).statusLine == "HTTP/1.1 404 Not Found")
        #expect(try HTTPReply.get("/metrics?name[]=ringd_connections_open", from: metrics).statusLine == "HTTP/1.1 200 OK")
        let post = try HTTPReply.exchange("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", with: metrics)
        #expect(post.statusLine == "HTTP/1.1 405 Method Not Allowed")
        let head = try HTTPReply.exchange("HEAD /metrics HTTP/1.1\r\n\r\n", with: metrics)
        #expect(head.statusLine == "HTTP/1.1 200 OK" && head.body.isEmpty, "\(head)")
        #expect(try HTTPReply.exchange("hello\r\n\r\n", with: metrics).statusLine == "HTTP/1.1 400 Bad Request")
    }

    @Test("a metrics port in use: ringd exits 1 naming it, before any worker listens")
    func portInUse() throws {
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(holder) }
        let bound = try Endpoint(host: "127.0.0.1", port: 0).withSocketAddress { bind(holder, $0, $1) }
        #expect(bound == 0 && listen(holder, 1) == 0)
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(holder, $0, &length) }
        }
        let port = try Endpoint(socketAddress: address).port

        let run = try CompletedRun(
            executable: try RingdPaths.ringdBinary(),
            arguments: ["--listen", "127.0.0.1:0", "--set", "metrics.listen=127.0.0.1:\(port)"])
        #expect(run.status == .exited(1), "\(run.outputSummary)")
        #expect(
            run.standardError.contains("ringd: error: cannot serve metrics on 127.0.0.1:\(port): bind failed: EADDRINUSE"),
            "\(run.outputSummary)")
        #expect(!run.standardOutput.contains("listening on"), "\(run.outputSummary)")
    }
}
