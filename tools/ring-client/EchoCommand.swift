// `ring-client bench echo`: throughput and latency of an echo server, every byte checked.

import ArgumentParser
import Histogram
import RingdSystem

struct EchoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "Echo load: send messages, check every byte that comes back, measure latency.",
        discussion: """
            Every connection sends messages of --size bytes and waits for them to come back. The \
            bytes follow a pattern that depends on their position in the connection's stream, so a \
            lost, repeated, reordered or extra byte is a mismatch, and the run exits with status 2 \
            naming the connection and the byte.

            Closed loop (default): each connection keeps --depth messages in flight and sends the \
            next one as soon as one has fully come back; latency is from send to last byte back.

            Open loop (--rate N): N requests per second in total fall due on a fixed schedule, \
            whatever the server does. A connection sends a due request once it has fewer than \
            --depth in flight, and latency is measured from when the request was due, so time a \
            request spent waiting behind a slow one is counted (corrected for coordinated \
            omission). Use enough --connections and --depth for the rate you ask for.

            Output: one progress line per second on stderr; a summary with requests/s, MB/s, and \
            latency p50, p90, p99, p99.9 and max (HdrHistogram, 3 significant digits) on stdout, \
            or one JSON object with --json. Exit status: 0 clean, 1 setup failure (e.g. connection \
            refused), 2 the run finished but saw data errors (mismatch, extra bytes, early close, \
            reset, stall).

            Example: ring-client bench echo 127.0.0.1 7000 -c 50 -s 512 -t 2 -d 10s
            """)

    @OptionGroup var target: TargetArguments
    @OptionGroup var load: LoadOptions

    @Option(name: [.short, .long], help: "Message size in bytes.")
    var size: Int = 512

    @Option(name: [.customShort("p"), .long], help: "Messages in flight per connection (pipelining depth); in open loop, the most a connection may have in flight.")
    var depth: Int = 1

    @Option(help: "Open loop: requests per second in total, on a fixed schedule; latencies corrected for coordinated omission.")
    var rate: Double?

    func validate() throws {
        guard size >= 1 && size <= 16 << 20 else { throw ValidationError("-s/--size must be between 1 and 16777216 bytes, not \(size)") }
        guard depth >= 1 && depth <= 4096 else { throw ValidationError("-p/--depth must be between 1 and 4096, not \(depth)") }
        // Below the floor (one request in 17 minutes) a run would send its first request and no other.
        if let rate, !(rate >= 0.001 && rate <= 1e9) { throw ValidationError("--rate must be between 0.001 and 1e9 requests per second, not \(rate)") }
    }

    func run() throws {
        let endpoint = try target.resolve()
        let socketOptions = try load.socketOptions(for: endpoint)
        try raiseDescriptorLimit(toFit: load.connections)
        let control = RunControl()
        let pattern = StreamPattern()
        let workers = load.makeWorkers { index, connections, first in
            EchoWorker(plan: EchoPlan(
                endpoint: endpoint, socketOptions: socketOptions, connections: connections, firstConnection: first,
                messageSize: size, depth: depth, quota: load.count.map { load.share($0, worker: index) },
                rate: rate.map { $0 * Double(connections) / Double(load.connections) },
                stallTimeout: load.timeout.duration, connectTimeout: load.connectTimeout.duration),
                control: control, pattern: pattern)
        }
        let label = "bench echo \(endpoint)"
        let timing = try BenchRunner.run(workers, control: control, schedule: load.schedule(unit: "req", label: label))

        var histogram = makeLatencyHistogram()
        var errors = ErrorLog()
        var requests: UInt64 = 0
        var lastCompletion: UInt64 = 0
        for worker in workers {
            histogram.add(worker.histogram)
            errors.merge(worker.errors)
            requests += worker.measuredCompleted
            lastCompletion = max(lastCompletion, worker.lastMeasuredCompletion)
        }
        // A count run that completed is timed to its last reply; any other run by its window.
        let end = load.count != nil && requests == load.count && lastCompletion > timing.measureStart
            ? lastCompletion : timing.measureEnd
        let seconds = Double(end &- timing.measureStart) / 1e9
        let summary = EchoSummary(
            endpoint: endpoint, connections: load.connections, size: size, depth: depth, threads: load.workerCount,
            rate: rate, warmup: load.warmup.nanoseconds, seconds: seconds, requests: requests,
            latency: LatencySummary(histogram), errors: errors, interrupted: timing.interrupted)
        summary.print(json: load.json)
        if errors.total > 0 { throw ExitCode(2) }
    }
}

struct EchoSummary {
    var endpoint: SocketAddress
    var connections: Int
    var size: Int
    var depth: Int
    var threads: Int
    var rate: Double?
    var warmup: UInt64
    var seconds: Double
    var requests: UInt64
    var latency: LatencySummary
    var errors: ErrorLog
    var interrupted: Bool

    var requestsPerSecond: Double { seconds > 0 ? Double(requests) / seconds : 0 }
    /// Megabytes (10^6) per second echoed back, as loadgen counts them.
    var megabytesPerSecond: Double { seconds > 0 ? Double(requests) * Double(size) / seconds / 1e6 : 0 }

    func print(json: Bool) {
        if json {
            var writer = JSONWriter()
            writer.object { w in
                w.field("mode", "echo")
                w.field("target", endpoint.description)
                w.field("connections", connections)
                w.field("size", size)
                w.field("depth", depth)
                w.field("threads", threads)
                w.field("rate", rate)
                w.field("loop", rate == nil ? "closed" : "open")
                w.field("warmup_seconds", Double(warmup) / 1e9)
                w.field("seconds", seconds)
                w.field("requests", requests)
                w.field("requests_per_second", requestsPerSecond)
                w.field("megabytes_per_second", megabytesPerSecond)
                w.field("latency_us") { latency.writeFields(&$0) }
                writeErrors(&w, errors)
                w.field("interrupted", interrupted)
                w.field("ok", errors.total == 0)
            }
            writeStandardOutput(writer.text + "\n")
        } else {
            let loop = rate.map { "open loop at \(formatFixed($0, digits: 0)) req/s" } ?? "closed loop"
            var text = "bench echo \(endpoint): \(connections) connections x \(size) B, depth \(depth), \(threads) thread\(threads == 1 ? "" : "s"), \(loop)\n"
            text += "  measured   \(formatFixed(seconds, digits: 3)) s" + (warmup > 0 ? " after \(formatDuration(warmup)) warm-up" : "") + (interrupted ? " (interrupted)" : "") + "\n"
            text += "  requests   \(requests)  \(formatFixed(requestsPerSecond, digits: 0)) req/s  \(formatFixed(megabytesPerSecond, digits: 2)) MB/s echoed\n"
            text += "  latency    \(latency.text)" + (rate == nil ? "\n" : " (from due time)\n")
            text += errorText(errors)
            writeStandardOutput(text)
        }
        reportErrors(errors)
    }
}

/// The `errors` object of --json: a count per kind and the first descriptions.
func writeErrors(_ writer: inout JSONWriter, _ errors: ErrorLog) {
    writer.field("errors") { w in
        w.field("total", errors.total)
        for kind in DataErrorKind.allCases where errors.count(of: kind) > 0 {
            w.field(kind.name, errors.count(of: kind))
        }
    }
    writer.field("error_messages", errors.descriptions)
}

/// `  errors     none` or the counts by kind.
func errorText(_ errors: ErrorLog) -> String {
    guard errors.total > 0 else { return "  errors     none\n" }
    let counts = DataErrorKind.allCases.filter { errors.count(of: $0) > 0 }.map { "\($0.name) \(errors.count(of: $0))" }
    return "  errors     \(errors.total): " + counts.joined(separator: ", ") + "\n"
}

/// Says on stderr what went wrong, so a failing run explains itself even with --json.
func reportErrors(_ errors: ErrorLog) {
    guard errors.total > 0 else { return }
    var text = ""
    for description in errors.descriptions { text += "ring-client: error: \(description)\n" }
    let described = UInt64(errors.descriptions.count)
    if errors.events > described { text += "ring-client: ... and \(errors.events - described) more like these (counts by kind in the summary)\n" }
    writeStandardError(text)
}
