// A scrape of ringd's metrics endpoint as a test reads it: one HTTP request on its own
// connection, the status line, and the samples of the Prometheus text format by series.
import Glibc
import TestSupport

struct HTTPReply {
    /// `HTTP/1.1 200 OK`
    let statusLine: String
    let head: String
    let body: String

    /// Sends `request` on a new connection to `endpoint` and reads until ringd closes it.
    static func exchange(_ request: String, with endpoint: Endpoint) throws -> HTTPReply {
        let socket = try TestSocket(connectingTo: endpoint)
        defer { socket.close() }
        try socket.sendAll(Array(request.utf8))
        return try HTTPReply(String(decoding: socket.receiveUntilEndOfStream(), as: UTF8.self))
    }

    /// `GET path`.
    static func get(_ path: String = "/metrics", from endpoint: Endpoint) throws -> HTTPReply {
        try exchange("GET \(path) HTTP/1.1\r\nHost: \(endpoint)\r\nUser-Agent: ringd-tests\r\n\r\n", with: endpoint)
    }

    init(_ text: String) throws {
        guard let separator = text.range(of: "\r\n\r\n") else {
            throw HarnessFailure("no HTTP head in: \(quoted(Array(text.utf8)))")
        }
        head = String(text[..<separator.lowerBound])
        body = String(text[separator.upperBound...])
        statusLine = head.split(separator: "\r\n").first.map(String.init) ?? ""
    }
}

/// The samples of one scrape: `name{labels}` -> value, and the comment lines.
struct MetricsSample {
    let text: String
    let values: [String: Double]

    init(_ text: String) {
        self.text = text
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = value
        }
        self.values = values
    }

    static func scrape(_ endpoint: Endpoint) throws -> MetricsSample {
        let reply = try HTTPReply.get(from: endpoint)
        guard reply.statusLine == "HTTP/1.1 200 OK" else {
            throw HarnessFailure("GET /metrics: \(reply.statusLine)\n\(reply.body)")
        }
        return MetricsSample(reply.body)
    }

    /// The sum of every series of `name` whose labels include each of `labels` (`reason="x"`).
    func total(_ name: String, _ labels: String...) -> Int {
        var sum = 0.0
        for (series, value) in values {
            guard series == name || series.hasPrefix(name + "{") else { continue }
            guard labels.allSatisfy({ series.contains($0) }) else { continue }
            sum += value
        }
        return Int(sum)
    }

    /// The `worker` label values of `name`'s series.
    func workers(of name: String) -> Set<String> {
        Set(
            values.keys.filter { $0.hasPrefix(name + "{") }.compactMap { series in
                series.range(of: #"worker=""#).map { String(series[$0.upperBound...].prefix { $0 != "\"" }) }
            })
    }

    /// Scrapes until `condition` holds (the workers publish each second), failing after `timeout`.
    static func scrape(
        _ endpoint: Endpoint, until condition: (MetricsSample) -> Bool, within timeout: Duration = .seconds(20)
    )
        throws -> MetricsSample
    {
        let deadline = Deadline(after: timeout)
        while true {
            let sample = try scrape(endpoint)
            if condition(sample) { return sample }
            guard !deadline.hasPassed else { throw HarnessFailure("the metrics never met the condition:\n\(sample.text)") }
            usleep(100_000)
        }
    }
}

extension RunningRingd {
    /// The metrics endpoint, waiting for its line on stdout.
    func requireMetricsEndpoint(within timeout: Duration = .seconds(10)) throws -> Endpoint {
        let deadline = Deadline(after: timeout)
        while true {
            if let endpoint = metricsEndpoint { return endpoint }
            guard !deadline.hasPassed else {
                throw HarnessFailure("no `ringd: metrics listening on` line:\n\(child.outputSummary)")
            }
            usleep(10_000)
        }
    }
}
