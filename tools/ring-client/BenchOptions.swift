// BenchOptions: the target and the load options every `bench` subcommand shares, and how they
// are split over worker threads.

import ArgumentParser

struct TargetArguments: ParsableArguments {
    @Argument(help: "The server's host: an IPv4 or IPv6 address or a DNS name.")
    var host: String

    @Argument(help: "The server's TCP port.")
    var port: Int

    func resolve() throws(ClientError) -> Endpoint {
        try Endpoint.resolve(host: host, port: port)[0]
    }
}

struct LoadOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Concurrent connections (connect loops for `connect`, subscribers for `broadcast`, clients for `relay`).")
    var connections: Int = 50

    @Option(name: [.short, .long], help: "Worker threads, each with its own io_uring and an equal share of the connections.")
    var threads: Int = 1

    @Option(name: [.short, .long], help: ArgumentHelp("How long to measure, e.g. 10s, 500ms, 2m. Default 10s, or until --count is reached.", valueName: "duration"))
    var duration: DurationArgument?

    @Option(name: [.customShort("n"), .long], help: "Stop after exactly this many measured requests (echo) or connections (connect); with --duration, whichever comes first.")
    var count: UInt64?

    @Option(name: [.customShort("W"), .long], help: ArgumentHelp("Run this long before measuring; warm-up traffic is not counted.", valueName: "duration"))
    var warmup: DurationArgument = .seconds(0)

    @Option(name: [.customShort("B"), .long], help: "Spread source addresses over 127.0.0.1 ... 127.0.0.N, for more ephemeral ports (IPv4 loopback targets only).")
    var spread: Int = 1

    @Option(help: ArgumentHelp("A connection that owes bytes and moves none for this long is a stall error.", valueName: "duration"))
    var timeout: DurationArgument = .seconds(5)

    @Option(help: ArgumentHelp("How long establishing the connections may take.", valueName: "duration"))
    var connectTimeout: DurationArgument = .seconds(10)

    @Flag(help: "Leave Nagle's algorithm on (by default TCP_NODELAY is set on every socket).")
    var nagle = false

    @Flag(help: "Print the summary as one JSON object on stdout instead of text.")
    var json = false

    @Flag(name: [.short, .long], help: "No progress line on stderr.")
    var quiet = false

    func validate() throws {
        guard connections >= 1 && connections <= 1_000_000 else { throw ValidationError("--connections must be between 1 and 1000000") }
        guard threads >= 1 && threads <= 256 else { throw ValidationError("--threads must be between 1 and 256") }
        guard spread >= 1 && spread <= 254 else { throw ValidationError("--spread must be between 1 and 254") }
        if let count, count == 0 { throw ValidationError("--count must be at least 1") }
        if let duration, duration.nanoseconds == 0 { throw ValidationError("--duration must be longer than 0") }
    }

    /// Worker threads actually used: never more than connections.
    var workerCount: Int { min(threads, connections) }

    /// One worker per thread, made by `make(index, connections, first)` with the worker's share
    /// of --connections and the number of its first connection.
    func makeWorkers<Worker>(_ make: (_ index: Int, _ connections: Int, _ first: Int) -> Worker) -> [Worker] {
        var workers: [Worker] = []
        var first = 0
        for index in 0..<workerCount {
            let connections = share(self.connections, worker: index)
            workers.append(make(index, connections, first))
            first += connections
        }
        return workers
    }

    /// The share of `total` that worker `index` gets: equal parts, the remainder to the first ones.
    func share(_ total: Int, worker index: Int) -> Int {
        total / workerCount + (index < total % workerCount ? 1 : 0)
    }

    func share(_ total: UInt64, worker index: Int) -> UInt64 {
        total / UInt64(workerCount) + (UInt64(index) < total % UInt64(workerCount) ? 1 : 0)
    }

    /// The socket options, after checking that --spread can apply to `endpoint`.
    func socketOptions(for endpoint: Endpoint) throws(ClientError) -> SocketOptions {
        if spread > 1 && !endpoint.isIPv4Loopback {
            throw ClientError("--spread picks sources in 127.0.0.0/8, so it needs an IPv4 loopback target, not \(endpoint)")
        }
        return SocketOptions(noDelay: !nagle, sourceSpread: spread)
    }

    /// The run schedule: 10 s by default, or open-ended when only --count is given.
    func schedule(unit: String, label: String, drain: UInt64 = 0) -> RunSchedule {
        let measured: UInt64? = duration?.nanoseconds ?? (count == nil ? 10_000_000_000 : nil)
        return RunSchedule(warmup: warmup.nanoseconds, duration: measured, drain: drain, quiet: quiet, unit: unit, label: label)
    }
}
