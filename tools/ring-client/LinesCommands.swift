// `ring-client bench broadcast` and `bench relay`: servers that push lines to many clients.

import ArgumentParser
import Histogram
import RingdSystem

struct BroadcastCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broadcast",
        abstract: "Broadcast subscribers: lines/s delivered, lost lines, fairness, delivery latency.",
        discussion: """
            Opens --connections subscribers that only read. Each line the server sends is scanned \
            for two fields, anywhere in the line after a space or another separator:

              seq=N    a counter that rises by one per broadcast on each connection
              time=T   when the server sent the line, wall clock: seconds with a fraction \
            (1732212345.123456, ringd's {time}) or integer s, ms, us or ns since the epoch

            ringd's default broadcast line `seq={seq} time={time} clients={clients}` has both. \
            Reported: lines/s over all subscribers, MB/s, lines per subscriber (min, mean, max: \
            a fair server gives every subscriber the same), lost lines (seq jumps), reordered \
            lines (seq not rising), and delivery latency from `time=` to arrival (client and \
            server clocks must agree; on one machine they do). Lines without the fields are \
            counted but not checked.

            Tick spread: the lines of one server tick share their `time=` and `seq=`; for each \
            tick stamped in the measured window, the spread is its last arrival minus its first \
            over all subscribers (monotonic clock, read once per batch of completions), reported \
            as median, 99th percentile and largest. After the window, --drain keeps reading so \
            that the last ticks reach every subscriber; lines read then are not counted.

            Errors (exit status 2): lost lines (unless --allow-gaps), reordered lines, a \
            subscriber closed by the server, a reset.

            Example: ring-client bench broadcast 127.0.0.1 7003 -c 1000 -d 10s
            """)

    @OptionGroup var target: TargetArguments
    @OptionGroup var load: LoadOptions

    @Flag(help: "Count lines lost to seq jumps, but do not treat them as errors (servers that drop for slow subscribers).")
    var allowGaps = false

    @Option(help: ArgumentHelp("After the measured window, keep reading this long so the last ticks reach every subscriber (for the tick spread).", valueName: "duration"))
    var drain: DurationArgument = .seconds(1)

    func validate() throws {
        if load.count != nil { throw ValidationError("-n/--count applies to echo and connect; use -d/--duration for broadcast") }
    }

    func run() throws {
        let endpoint = try target.resolve()
        let socketOptions = try load.socketOptions(for: endpoint)
        try raiseDescriptorLimit(toFit: load.connections)
        let control = RunControl()
        let workers = load.makeWorkers { _, connections, first in
            LinesWorker(plan: LinesPlan(
                mode: .broadcast, endpoint: endpoint, socketOptions: socketOptions, connections: connections,
                firstConnection: first, totalConnections: load.connections, rate: 0, lineSize: 0,
                gapsAreErrors: !allowGaps, connectTimeout: load.connectTimeout.duration), control: control)
        }
        let timing = try BenchRunner.run(workers, control: control,
                                         schedule: load.schedule(unit: "lines", label: "bench broadcast \(endpoint)", drain: drain.nanoseconds))

        var histogram = makeLatencyHistogram()
        var errors = ErrorLog()
        var lines: UInt64 = 0
        var bytes: UInt64 = 0
        var lost: UInt64 = 0
        var unparsed: UInt64 = 0
        var future: UInt64 = 0
        var perSubscriber: [UInt64] = []
        var ticks: [TickArrivals] = []
        var untrackedTickLines: UInt64 = 0
        for worker in workers {
            ticks += worker.ticks(stampedBetween: timing.measureStart, and: timing.measureEnd)
            untrackedTickLines += worker.untrackedTickLines
            histogram.add(worker.histogram)
            errors.merge(worker.errors)
            lines += worker.measuredLines
            bytes += worker.measuredBytes
            lost += worker.lostLines
            unparsed += worker.linesWithoutFields
            future += worker.futureStamps
            perSubscriber += worker.linesPerConnection
        }
        let seconds = Double(timing.measureEnd &- timing.measureStart) / 1e9
        let latency = LatencySummary(histogram)
        let spread = TickSpread(merging: ticks)
        let minimum = perSubscriber.min() ?? 0
        let maximum = perSubscriber.max() ?? 0
        let mean = perSubscriber.isEmpty ? 0 : Double(lines) / Double(perSubscriber.count)
        let linesPerSecond = seconds > 0 ? Double(lines) / seconds : 0
        let megabytesPerSecond = seconds > 0 ? Double(bytes) / seconds / 1e6 : 0
        if load.json {
            var writer = JSONWriter()
            writer.object { w in
                w.field("mode", "broadcast")
                w.field("target", endpoint.description)
                w.field("subscribers", load.connections)
                w.field("threads", load.workerCount)
                w.field("seconds", seconds)
                w.field("lines", lines)
                w.field("lines_per_second", linesPerSecond)
                w.field("megabytes_per_second", megabytesPerSecond)
                w.field("lines_per_subscriber") { f in
                    f.field("min", minimum)
                    f.field("mean", mean)
                    f.field("max", maximum)
                }
                w.field("lost", lost)
                w.field("lines_without_fields", unparsed)
                w.field("future_stamps", future)
                w.field("latency_us") { latency.writeFields(&$0) }
                w.field("tick_spread_us") { spread.writeFields(&$0) }
                w.field("untracked_tick_lines", untrackedTickLines)
                writeErrors(&w, errors)
                w.field("interrupted", timing.interrupted)
                w.field("ok", errors.total == 0)
            }
            writeStandardOutput(writer.text + "\n")
        } else {
            var text = "bench broadcast \(endpoint): \(load.connections) subscribers, \(load.workerCount) thread\(load.workerCount == 1 ? "" : "s")\n"
            text += "  measured   \(formatFixed(seconds, digits: 3)) s" + (timing.interrupted ? " (interrupted)" : "") + "\n"
            text += "  lines      \(lines)  \(formatFixed(linesPerSecond, digits: 0)) lines/s  \(formatFixed(megabytesPerSecond, digits: 2)) MB/s\n"
            text += "  fairness   lines per subscriber min \(minimum) mean \(formatFixed(mean, digits: 1)) max \(maximum)\n"
            text += "  sequence   \(lost) lost" + (allowGaps ? " (allowed)" : "") + ", \(errors.count(of: .reordered)) reordered" + (unparsed > 0 ? ", \(unparsed) lines without seq= or time=" : "") + "\n"
            text += "  latency    \(latency.count > 0 ? latency.text + " (time= to arrival)" : "no time= stamps")" + (future > 0 ? ", \(future) stamps in the future (clock skew?)" : "") + "\n"
            text += "  spread     \(spread.text)" + (untrackedTickLines > 0 ? ", \(untrackedTickLines) lines past the tick table" : "") + "\n"
            text += errorText(errors)
            writeStandardOutput(text)
        }
        reportErrors(errors)
        if errors.total > 0 { throw ExitCode(2) }
    }
}

struct RelayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Relay clients sending at a rate: fan-out latency and loss.",
        discussion: """
            Opens --connections clients. Together they send --rate lines per second on a fixed \
            schedule (open loop, spread evenly over the clients), each line \
            `from=ID seq=N time=T\\n` with ID the client's number (1...), N its own line count \
            (1...), and T the wall-clock time in ns when the line was due. The server is expected \
            to forward each line to every other client, with or without a prefix \
            (`client3: from=...` is fine); lines without `from=` (notices, welcomes) are ignored.

            Reported: lines delivered per second, the fan-out latency from T to arrival (which \
            includes any time a line waited to be sent: corrected for coordinated omission), \
            lines lost (each client should get every other client's lines; counted after a \
            --drain pause that lets the last lines arrive), lines seen out of order, and lines \
            the server echoed back to their own sender.

            Before the first line, every client waits (up to --settle) until the server has sent \
            it something, such as ringd's welcome line: a line sent before the server has \
            registered all clients would miss some of them.

            Errors (exit status 2): lost or reordered lines, a client closed by the server, a \
            reset, or a client whose 64 KiB send backlog filled up (the server stopped reading).

            Example: ring-client bench relay 127.0.0.1 7004 -c 100 --rate 2000 -d 10s
            """)

    @OptionGroup var target: TargetArguments
    @OptionGroup var load: LoadOptions

    @Option(help: "Lines per second sent by all clients together.")
    var rate: Double = 1000

    @Option(name: [.short, .long], help: "Pad each line to this many bytes (the newline included).")
    var size: Int = 0

    @Option(help: ArgumentHelp("Before sending, wait up to this long for every client to receive something from the server (a welcome line), so that the server has registered them all.", valueName: "duration"))
    var settle: DurationArgument = .milliseconds(500)

    @Option(help: ArgumentHelp("After the measured window, keep reading this long before counting lost lines.", valueName: "duration"))
    var drain: DurationArgument = .seconds(1)

    func validate() throws {
        if load.count != nil { throw ValidationError("-n/--count applies to echo and connect; use -d/--duration for relay") }
        guard rate >= 0.001 && rate <= 1e8 else { throw ValidationError("--rate must be between 0.001 and 1e8 lines per second, not \(rate)") }
        guard size >= 0 && size <= 60000 else { throw ValidationError("-s/--size must be between 0 and 60000 bytes, not \(size)") }
        guard load.connections >= 2 && load.connections <= 8192 else { throw ValidationError("relay needs 2 to 8192 clients (-c/--connections), not \(load.connections)") }
    }

    func run() throws {
        let endpoint = try target.resolve()
        let socketOptions = try load.socketOptions(for: endpoint)
        try raiseDescriptorLimit(toFit: load.connections)
        let control = RunControl()
        let workers = load.makeWorkers { _, connections, first in
            LinesWorker(plan: LinesPlan(
                mode: .relay, endpoint: endpoint, socketOptions: socketOptions, connections: connections,
                firstConnection: first, totalConnections: load.connections,
                rate: rate * Double(connections) / Double(load.connections), lineSize: size,
                gapsAreErrors: true, connectTimeout: load.connectTimeout.duration, settle: settle.duration),
                control: control)
        }
        let timing = try BenchRunner.run(workers, control: control,
                                         schedule: load.schedule(unit: "lines", label: "bench relay \(endpoint)", drain: drain.nanoseconds))

        var histogram = makeLatencyHistogram()
        var errors = ErrorLog()
        var delivered: UInt64 = 0
        var sent: [UInt64] = []
        for worker in workers {
            histogram.add(worker.histogram)
            errors.merge(worker.errors)
            delivered += worker.measuredLines
            sent += worker.sentPerConnection
        }
        // Every client should have every other client's lines.
        var expected: UInt64 = 0
        var lost: UInt64 = 0
        var echoedToSender: UInt64 = 0
        var example: String?
        var receiver = 0
        for worker in workers {
            for local in 0..<worker.plan.connections {
                for sender in 0..<load.connections {
                    let got = worker.received(by: local, from: sender)
                    if sender == receiver { echoedToSender += got; continue }
                    expected += sent[sender]
                    if got < sent[sender] {
                        lost += sent[sender] - got
                        if example == nil { example = "client \(receiver + 1) got \(got) of \(sent[sender]) lines from client \(sender + 1)" }
                    }
                }
                receiver += 1
            }
        }
        if lost > 0 {
            errors.record(.gap, amount: lost) { "\(lost) of \(expected) relayed lines never arrived, e.g. \(example ?? "")" }
        }
        let seconds = Double(timing.measureEnd &- timing.measureStart) / 1e9
        let latency = LatencySummary(histogram)
        let totalSent = sent.reduce(0, +)
        let deliveredPerSecond = seconds > 0 ? Double(delivered) / seconds : 0
        if load.json {
            var writer = JSONWriter()
            writer.object { w in
                w.field("mode", "relay")
                w.field("target", endpoint.description)
                w.field("clients", load.connections)
                w.field("threads", load.workerCount)
                w.field("rate", rate)
                w.field("seconds", seconds)
                w.field("lines_sent", totalSent)
                w.field("deliveries_expected", expected)
                w.field("lines_delivered_in_window", delivered)
                w.field("deliveries_per_second", deliveredPerSecond)
                w.field("lost", lost)
                w.field("echoed_to_sender", echoedToSender)
                w.field("latency_us") { latency.writeFields(&$0) }
                writeErrors(&w, errors)
                w.field("interrupted", timing.interrupted)
                w.field("ok", errors.total == 0)
            }
            writeStandardOutput(writer.text + "\n")
        } else {
            var text = "bench relay \(endpoint): \(load.connections) clients, \(formatFixed(rate, digits: 0)) lines/s sent, \(load.workerCount) thread\(load.workerCount == 1 ? "" : "s")\n"
            text += "  measured   \(formatFixed(seconds, digits: 3)) s, then \(formatDuration(drain.nanoseconds)) drain" + (timing.interrupted ? " (interrupted)" : "") + "\n"
            text += "  lines      \(totalSent) sent, \(expected) deliveries expected, \(lost) lost, \(errors.count(of: .reordered)) out of order" + (echoedToSender > 0 ? ", \(echoedToSender) echoed to their sender" : "") + "\n"
            text += "  delivered  \(delivered) in the window  \(formatFixed(deliveredPerSecond, digits: 0)) lines/s\n"
            text += "  latency    \(latency.text) (due to arrival)\n"
            text += errorText(errors)
            writeStandardOutput(text)
        }
        reportErrors(errors)
        if errors.total > 0 { throw ExitCode(2) }
    }
}
