// `ring-client bench connect`: connection rate of a server that sends something and closes
// (greet, counter), optionally checking that a counter's values rise.

import ArgumentParser
import Histogram
import RingdSystem

struct ConnectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Connection rate: connect, read until the server closes, repeat.",
        discussion: """
            --connections loops run in parallel; each connects, reads until the server closes the \
            connection, closes its end, and connects again. Reported: connections per second, \
            bytes per reply, and the time from connect() to the server's close (p50 ... max).

            An error (exit status 2): a refused or failed connect, a reset, a connection closed \
            with nothing sent (empty reply), or a connection the server neither answers nor closes \
            within --timeout.

            --check-increasing, for a counter server: the first decimal number in every reply is \
            read; within each loop every value must be above the loop's previous one (loops run \
            concurrently, so values of different loops interleave), and no value may be handed \
            out twice across all loops.

            For many connections per second on loopback, --spread N uses source addresses \
            127.0.0.1 ... 127.0.0.N so that ephemeral ports (and TIME_WAIT) are spread N ways.

            Example: ring-client bench connect 127.0.0.1 7001 -c 50 -B 50 -d 10s --check-increasing
            """)

    @OptionGroup var target: TargetArguments
    @OptionGroup var load: LoadOptions

    @Flag(help: "Counter servers: each reply's first decimal number must rise within a loop and be unique overall.")
    var checkIncreasing = false

    func run() throws {
        let endpoint = try target.resolve()
        var socketOptions = try load.socketOptions(for: endpoint)
        // Nothing is sent, so Nagle does not matter and the setsockopt would be a wasted call.
        socketOptions.noDelay = false
        try raiseDescriptorLimit(toFit: load.connections * 2)
        let control = RunControl()
        let workers = load.makeWorkers { index, loops, first in
            ConnectWorker(plan: ConnectPlan(
                endpoint: endpoint, socketOptions: socketOptions, loops: loops, firstLoop: first,
                quota: load.count.map { load.share($0, worker: index) }, checkIncreasing: checkIncreasing,
                stallTimeout: load.timeout.duration), control: control)
        }
        let timing = try BenchRunner.run(workers, control: control, schedule: load.schedule(unit: "conn", label: "bench connect \(endpoint)"))

        var histogram = makeLatencyHistogram()
        var errors = ErrorLog()
        var connections: UInt64 = 0
        var bytes: UInt64 = 0
        var lastCompletion: UInt64 = 0
        var values: [UInt64] = []
        for worker in workers {
            histogram.add(worker.histogram)
            errors.merge(worker.errors)
            connections += worker.measuredCompleted
            bytes += worker.measuredBytes
            lastCompletion = max(lastCompletion, worker.lastMeasuredCompletion)
            values += worker.values
        }
        var counter: CounterSummary?
        if checkIncreasing {
            let summary = CounterSummary(values)
            if summary.duplicates > 0 {
                errors.record(.duplicate, amount: summary.duplicates) {
                    "\(summary.duplicates) counter values were handed out more than once (first: \(summary.firstDuplicate ?? 0))"
                }
            }
            counter = summary
        }
        let end = load.count != nil && connections == load.count && lastCompletion > timing.measureStart
            ? lastCompletion : timing.measureEnd
        let seconds = Double(end &- timing.measureStart) / 1e9
        let summary = ConnectSummary(
            endpoint: endpoint, loops: load.connections, threads: load.workerCount, warmup: load.warmup.nanoseconds,
            seconds: seconds, connections: connections, bytes: bytes, latency: LatencySummary(histogram),
            counter: counter, errors: errors, interrupted: timing.interrupted)
        summary.print(json: load.json)
        if errors.total > 0 { throw ExitCode(2) }
    }
}

/// What --check-increasing saw across all loops.
struct CounterSummary {
    var count: Int
    var minimum: UInt64
    var maximum: UInt64
    var duplicates: UInt64
    var firstDuplicate: UInt64?
    /// Values in minimum...maximum that nobody received (other clients, or connections that
    /// failed or fell outside the measured window, take values too).
    var missing: UInt64

    init(_ values: [UInt64]) {
        let sorted = values.sorted()
        count = sorted.count
        minimum = sorted.first ?? 0
        maximum = sorted.last ?? 0
        duplicates = 0
        var distinct: UInt64 = sorted.isEmpty ? 0 : 1
        for index in sorted.indices.dropFirst() {
            if sorted[index] == sorted[index - 1] {
                duplicates += 1
                if firstDuplicate == nil { firstDuplicate = sorted[index] }
            } else {
                distinct += 1
            }
        }
        missing = sorted.isEmpty ? 0 : maximum - minimum + 1 - distinct
    }
}

struct ConnectSummary {
    var endpoint: SocketAddress
    var loops: Int
    var threads: Int
    var warmup: UInt64
    var seconds: Double
    var connections: UInt64
    var bytes: UInt64
    var latency: LatencySummary
    var counter: CounterSummary?
    var errors: ErrorLog
    var interrupted: Bool

    var connectionsPerSecond: Double { seconds > 0 ? Double(connections) / seconds : 0 }

    func print(json: Bool) {
        if json {
            var writer = JSONWriter()
            writer.object { w in
                w.field("mode", "connect")
                w.field("target", endpoint.description)
                w.field("loops", loops)
                w.field("threads", threads)
                w.field("warmup_seconds", Double(warmup) / 1e9)
                w.field("seconds", seconds)
                w.field("connections", connections)
                w.field("connections_per_second", connectionsPerSecond)
                w.field("reply_bytes", bytes)
                w.field("latency_us") { latency.writeFields(&$0) }
                if let counter {
                    w.field("counter") { c in
                        c.field("values", counter.count)
                        c.field("min", counter.minimum)
                        c.field("max", counter.maximum)
                        c.field("duplicates", counter.duplicates)
                        c.field("missing", counter.missing)
                    }
                }
                writeErrors(&w, errors)
                w.field("interrupted", interrupted)
                w.field("ok", errors.total == 0)
            }
            writeStandardOutput(writer.text + "\n")
        } else {
            var text = "bench connect \(endpoint): \(loops) loops, \(threads) thread\(threads == 1 ? "" : "s")\n"
            text += "  measured   \(formatFixed(seconds, digits: 3)) s" + (warmup > 0 ? " after \(formatDuration(warmup)) warm-up" : "") + (interrupted ? " (interrupted)" : "") + "\n"
            let perReply = connections > 0 ? formatFixed(Double(bytes) / Double(connections), digits: 1) : "0"
            text += "  connections \(connections)  \(formatFixed(connectionsPerSecond, digits: 0)) conn/s  \(perReply) bytes per reply\n"
            text += "  latency    \(latency.text) (connect to close)\n"
            if let counter {
                text += "  counter    \(counter.count) values from \(counter.minimum) to \(counter.maximum), rising in every loop; \(counter.duplicates) duplicates, \(counter.missing) not seen\n"
            }
            text += errorText(errors)
            writeStandardOutput(text)
        }
        reportErrors(errors)
    }
}
