// BenchOptions: the target and the load options every `bench` subcommand shares, and how they
// are split over worker threads.

import ArgumentParser
import RingdSystem

struct TargetArguments: ParsableArguments {
    @Argument(help: "The server's host: an IPv4 or IPv6 address or a DNS name.")
    var host: String

    @Argument(help: "The server's TCP port.")
    var port: Int

    /// Refuses, before any lookup, what cannot name a TCP server: an empty host, a host that
    /// carries its own port (`127.0.0.1:7000`, `[::1]:7000`), a port outside 1...65535.
    func validate() throws {
        guard !host.isEmpty else { throw ValidationError("<host> is empty; give an address or a name, e.g. 127.0.0.1") }
        if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon || host[..<colon].hasSuffix("]") {
            let suggestion = "\(unbracketed(host[..<colon])) \(host[host.index(after: colon)...])"
            throw ValidationError("<host> '\(host)' looks like HOST:PORT; give the port as its own argument: \(suggestion)")
        }
        guard (1...65535).contains(port) else { throw ValidationError("<port> must be between 1 and 65535, not \(port)") }
    }

    /// Every address the target names, in getaddrinfo's order of preference.
    func endpoints() throws(ClientError) -> [SocketAddress] {
        try SocketAddress.resolve(host: unbracketed(Substring(host)), port: port)
    }

    /// The preferred address, for the benchmarks.
    func resolve() throws(ClientError) -> SocketAddress {
        try endpoints()[0]
    }

    /// `::1` for `[::1]`, the way ringd's --listen and ring-client's own output write IPv6.
    private func unbracketed(_ text: Substring) -> String {
        String(text.hasPrefix("[") && text.hasSuffix("]") ? text.dropFirst().dropLast() : text)
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
        guard connections >= 1 && connections <= 1_000_000 else { throw ValidationError("-c/--connections must be between 1 and 1000000, not \(connections)") }
        guard threads >= 1 && threads <= 256 else { throw ValidationError("-t/--threads must be between 1 and 256, not \(threads)") }
        guard spread >= 1 && spread <= 254 else { throw ValidationError("-B/--spread must be between 1 and 254, not \(spread)") }
        if let count, count == 0 { throw ValidationError("-n/--count must be at least 1") }
        if let duration, duration.nanoseconds == 0 { throw ValidationError("-d/--duration must be at least 1ns") }
        // A zero stall timeout would call every connection stalled at its first check.
        guard timeout.nanoseconds > 0 else { throw ValidationError("--timeout must be at least 1ns") }
        guard connectTimeout.nanoseconds > 0 else { throw ValidationError("--connect-timeout must be at least 1ns") }
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
    func socketOptions(for endpoint: SocketAddress) throws(ClientError) -> SocketOptions {
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
