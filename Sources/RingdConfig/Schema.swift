// The configuration schema: one table of keys that drives validation, suggestions for unknown
// keys, `--set`, the defaults and rendering.
//
// To add a table (say [greet]): declare `GreetSettings`, add a `greet` field to `Configuration`
// (and its placeholder to `Configuration.unset`), then add one `ConfigurationKey` per field below,
// with its kind, default, whether SIGHUP may change it, and one line of documentation. Everything
// else follows from this list.

import RingdServices

enum Schema {
    static let keys: [ConfigurationKey] = [
        ConfigurationKey(
            "server", "mode", .choice(ServiceMode.self), default: .echo, \.server.mode, reload: .restart,
            "the service every connection gets"),
        ConfigurationKey(
            "server", "listen", .listenAddresses, default: [ListenAddress.loopback7000], \.server.listen, reload: .restart,
            "HOST:PORT or unix:/PATH list; IPv6 as \"[::1]:7000\"; port 0 = one ephemeral port shared by all workers"),
        ConfigurationKey(
            "server", "unix_mode", .fileMode, default: FileMode(bits: 0o660)!, \.server.unixMode, reload: .restart,
            "permissions of each unix:/PATH socket file: owner and group may connect"),
        ConfigurationKey(
            "server", "workers", .workerCount(in: 1...1024), default: .auto, \.server.workers, reload: .restart,
            "\"auto\" = one per CPU the process may run on"),
        ConfigurationKey(
            "server", "pin_workers", .boolean, default: true, \.server.pinWorkers, reload: .restart,
            "pin worker i to the i-th CPU the process may run on"),
        // Off by default: where one CPU handles every arriving packet (a NIC with one queue and
        // no RPS, or loopback from a one-thread client) it would give that CPU's worker every
        // connection. Where packets are spread over the CPUs it keeps a connection's packets,
        // wake-ups and worker on one CPU (BENCHMARKS.md: on loopback with two workers, 0.77x and
        // 0.85x the CPU per request with 50 clients, no gain with 1,000).
        ConfigurationKey(
            "server", "incoming_cpu", .boolean, default: false, \.server.incomingCPU, reload: .restart,
            "a pinned worker takes the TCP connections whose packets arrive on its CPU (SO_INCOMING_CPU); only where the NIC spreads them over every CPU"
        ),
        ConfigurationKey(
            "server", "backlog", .integer(in: 1...65535), default: 4096, \.server.backlog, reload: .restart,
            "listen(2) backlog"),
        ConfigurationKey(
            "server", "max_connections", .integer(in: 1...1_048_576), default: 16384, \.server.maxConnections, reload: .restart,
            "connection slots per worker"),
        ConfigurationKey(
            "server", "busy_message", .optionalTemplate(filling: []), default: nil, \.server.busyMessage, reload: .live,
            "sent to a client refused because max_connections are open, then it is closed"),
        ConfigurationKey(
            // .restart: each worker reads it once, when it starts (EventLoop.drainTimeout).
            "server", "drain_timeout", .duration(in: .zero...(.seconds(3600))), default: .seconds(5), \.server.drainTimeout,
            reload: .restart,
            "on SIGTERM/SIGINT, how long queued output may drain before everything closes; a second signal exits at once;"
                + " after a hand-over, how long open connections are served before that drain"),
        ConfigurationKey(
            "server", "control_socket", .optionalSocketPath, default: nil, \.server.controlSocket, reload: .restart,
            "Unix socket (owner-only) where `ringd --takeover PATH` asks for the listening sockets"),
        ConfigurationKey(
            "server", "idle_timeout", .duration(in: .zero...(.seconds(86400 * 7))), default: .seconds(300), \.server.idleTimeout,
            reload: .live,
            "close a client that sends nothing for this long; \"0s\" = never (broadcast: see broadcast.idle_timeout)"),
        ConfigurationKey(
            "server", "log_level", .choice(LogLevel.self), default: .info, \.server.logLevel, reload: .live,
            "least severe message that is logged"),

        ConfigurationKey(
            // 16384 x 4 = 65536, the largest completion queue: every accepted size can meet the 4x rule.
            "io", "submission_entries", .powerOfTwo(in: 8...16384), default: 512, \.io.submissionEntries, reload: .restart,
            "submission queue entries per worker"),
        // 65536 is the kernel's limit (IORING_MAX_CQ_ENTRIES). The default holds a completion for
        // each of twice the default max_connections: a broadcast tick or a relay line sends to every
        // client of a worker in one iteration, one completion each. A smaller queue overflows then,
        // which costs the kernel an allocation per completion and ends the multishot accept and
        // recvs (10,000 subscribers saw accepts wait seconds in the backlog). 512 KiB per worker.
        ConfigurationKey(
            "io", "completion_entries", .powerOfTwo(in: 32...65536), default: 32768, \.io.completionEntries, reload: .restart,
            "completion queue entries per worker, at least 4 x submission_entries; a fan-out needs one per client"),
        ConfigurationKey(
            "io", "buffer_count", .powerOfTwo(in: 1...32768), default: 1024, \.io.bufferCount, reload: .restart,
            "provided receive buffers per worker"),
        ConfigurationKey(
            "io", "buffer_size", .size(in: 512...(1 << 20)), default: 4 << 10, \.io.bufferSize, reload: .restart,
            "bytes in each receive buffer"),
        // 64 x 64 KiB, 4 MiB per worker, touched only by raw echo clients that stream: a 200 KB
        // message costs about 0.6x the CPU it costs in 4 KiB buffers (BENCHMARKS.md). Not a
        // constraint on buffer_size: raising that alone must not make a file invalid.
        ConfigurationKey(
            "io", "bulk_buffer_count", .powerOfTwo(in: 0...4096), default: 64, \.io.bulkBufferCount, reload: .restart,
            "large receive buffers per worker that raw echo moves a streaming client to; 0 = none"),
        ConfigurationKey(
            "io", "bulk_buffer_size", .size(in: 512...(1 << 20)), default: 64 << 10, \.io.bulkBufferSize, reload: .restart,
            "bytes in each large receive buffer; none are used unless larger than buffer_size"),
        ConfigurationKey(
            "io", "receive_bundles", .boolean, default: true, \.io.receiveBundles, reload: .restart,
            "a recv may fill several buffers in one completion (Linux 6.10; raw echo also needs the recv limit of newer kernels)"),
        ConfigurationKey(
            // UIO_MAXIOV (1024) is the kernel's bound on one sendmsg's iovecs.
            "io", "send_gather", .integer(in: 1...1024), default: 32, \.io.sendGather, reload: .restart,
            "most queued buffers one send gathers (sendmsg); 1 = one send per buffer"),
        ConfigurationKey(
            "io", "batch_wait", .duration(in: .zero...(.milliseconds(10))), default: .zero, \.io.batchWait, reload: .restart,
            "once a completion is ready, how long a busy worker waits for more before handling them (Linux 6.12; 0 = not at all)"),
        ConfigurationKey(
            "io", "output_limit", .size(in: 512...(1 << 30)), default: 1 << 20, \.io.outputLimit, reload: .live,
            "bytes queued for sending per connection before echo stops reading; at least buffer_size"),
        ConfigurationKey(
            "io", "output_cap", .size(in: 512...(1 << 30)), default: 1 << 20, \.io.outputCap, reload: .live,
            "bytes queued for one broadcast or relay client before it is cut off; at least buffer_size and its longest line"),
        ConfigurationKey(
            "io", "output_soft_cap", .size(in: 0...(1 << 30)), default: 256 << 10, \.io.outputSoftCap, reload: .live,
            "a broadcast or relay client above this for io.output_soft_time is cut off too; 0 = none"),
        ConfigurationKey(
            "io", "output_soft_time", .duration(in: .seconds(1)...(.seconds(86400))), default: .seconds(30), \.io.outputSoftTime,
            reload: .live,
            "how long a client may stay above io.output_soft_cap"),
        ConfigurationKey(
            // At least 4 chunks of the smallest chunk size, 64 KiB (see OutputChunks.swift).
            "io", "output_memory", .size(in: (256 << 10)...(1 << 34)), default: 64 << 20, \.io.outputMemory, reload: .restart,
            "rendered output one worker may hold (replies, heartbeats, relayed lines); at least 4 output chunks"),

        ConfigurationKey(
            "echo", "lines", .boolean, default: false, \.echo.lines, reload: .restart,
            "react to complete lines instead of raw bytes"),
        ConfigurationKey(
            "echo", "line_numbers", .boolean, default: false, \.echo.lineNumbers, reload: .restart,
            "prefix replies with \"N: \" like the Perl echo server (implies lines)"),
        ConfigurationKey(
            "echo", "max_line", .size(in: 1...(16 << 20)), default: 64 << 10, \.echo.maxLine, reload: .restart,
            "longest line accepted in line mode"),
        ConfigurationKey(
            "echo", "access_log", .boolean, default: false, \.echo.accessLog, reload: .restart,
            "print \"[HOST PORT] line\" per received line on stdout (implies lines)"),

        ConfigurationKey(
            "greet", "message", .template(filling: [.peer, .time, .clients]),
            default: try! MessageTemplate(parsing: GreetService.defaultMessage), \.greet.message, reload: .live,
            "sent on connect, then the connection is closed"),
        ConfigurationKey(
            "counter", "message", .template(filling: [.count, .peer, .time, .clients]),
            default: try! MessageTemplate(parsing: CounterService<LocalConnectionNumbers>.defaultMessage), \.counter.message,
            reload: .live,
            "sent on connect, then closed; {count} = connections before this one"),

        ConfigurationKey(
            "broadcast", "interval", .duration(in: .milliseconds(1)...(.seconds(86400))), default: .seconds(1),
            \.broadcast.interval, reload: .live,
            "time between two heartbeats"),
        ConfigurationKey(
            "broadcast", "message", .template(filling: [.seq, .time, .clients]),
            default: try! MessageTemplate(parsing: Broadcast.defaultMessage), \.broadcast.message, reload: .live,
            "the heartbeat every client gets; {seq} counts this worker's ticks from 1"),
        ConfigurationKey(
            "broadcast", "greeting", .optionalTemplate(filling: [.seq, .time, .clients, .peer]), default: nil,
            \.broadcast.greeting, reload: .live,
            "sent once to a client when it connects"),
        ConfigurationKey(
            "broadcast", "idle_timeout", .duration(in: .zero...(.seconds(86400 * 7))), default: .zero, \.broadcast.idleTimeout,
            reload: .live,
            "close a subscriber that sends nothing for this long; \"0s\" = never"),

        ConfigurationKey(
            "relay", "notices", .boolean, default: true, \.relay.notices, reload: .live,
            "tell the others when a client joins, leaves or takes a /nick"),
        ConfigurationKey(
            "relay", "welcome", .boolean, default: true, \.relay.welcome, reload: .live,
            "tell a new client its name"),
        ConfigurationKey(
            "relay", "max_line", .size(in: 1...(1 << 20)), default: 4 << 10, \.relay.maxLine, reload: .restart,
            "longest chat line accepted; a longer one gets an error line and a close"),

        ConfigurationKey(
            "access", "allow", .addressRanges, default: [], \.access.allow, reload: .live,
            "CIDR ranges served; empty = everyone not denied"),
        ConfigurationKey(
            "access", "deny", .addressRanges, default: [], \.access.deny, reload: .live,
            "CIDR ranges refused at once, whatever allow says"),

        ConfigurationKey(
            "metrics", "listen", .optionalListenAddress, default: nil, \.metrics.listen, reload: .restart,
            "HOST:PORT where GET /metrics answers in the Prometheus text format; port 0 = a free port; \"\" = off"),

        ConfigurationKey(
            "cluster", "redis", .optionalRedisAddress, default: nil, \.cluster.redis, reload: .restart,
            "numeric HOST:PORT or \"unix:/path\" of the Redis (or Valkey) the hosts share; \"\" = this host alone"),
        ConfigurationKey(
            "cluster", "prefix", .text(maximumBytes: 256, allowsEmpty: false), default: "ringd", \.cluster.prefix,
            reload: .restart,
            "put before every Redis key and channel (PREFIX:counter, PREFIX:broadcast, PREFIX:relay, PREFIX:name:NAME)"),
        ConfigurationKey(
            "cluster", "username", .text(maximumBytes: 256, allowsEmpty: true), default: "", \.cluster.username,
            reload: .restart,
            "Redis ACL user for AUTH; \"\" with a password = the default user"),
        ConfigurationKey(
            "cluster", "password", .text(maximumBytes: 1024, allowsEmpty: true), default: "", \.cluster.password,
            reload: .restart,
            "Redis password for AUTH; \"\" = no AUTH (ringd --check prints it: keep the file private)"),
        ConfigurationKey(
            "cluster", "node", .text(maximumBytes: 128, allowsEmpty: true), default: "", \.cluster.node, reload: .restart,
            "this process's name in logs and to other hosts, unique among them; in relay mode at most 16 visible"
                + " characters (default names end in it: client7@NODE); \"\" = HOSTNAME:PID, the host name cut to fit 16"),
        ConfigurationKey(
            "cluster", "unavailable_message", .template(filling: []),
            default: try! MessageTemplate(parsing: "error: the cluster is unavailable, try again later\n"),
            \.cluster.unavailableMessage, reload: .live,
            "sent to a counter client while Redis cannot number it, then it is closed"),
    ]

    /// Rules that involve more than one key; checked after every key is valid on its own.
    static let constraints: [Constraint] = [
        Constraint(["io.submission_entries", "io.completion_entries"]) { configuration in
            let submission = configuration.io.submissionEntries
            let completion = configuration.io.completionEntries
            guard completion < 4 * submission else { return nil }
            return "io.completion_entries (\(completion)) must be at least 4 x io.submission_entries"
                + " (4 x \(submission) = \(4 * submission))"
        },
        Constraint(["io.buffer_size", "io.output_limit"]) { configuration in
            let io = configuration.io
            guard io.outputLimit < io.bufferSize else { return nil }
            return "io.output_limit (\(ByteCountText.text(bytes: io.outputLimit))) must be at least"
                + " io.buffer_size (\(ByteCountText.text(bytes: io.bufferSize)))"
        },
        // One receive buffer of input may fan out to every other client at once; a client that
        // reads promptly must not be cut off for it.
        Constraint(["io.buffer_size", "io.output_cap"]) { configuration in
            let io = configuration.io
            guard io.outputCap < io.bufferSize else { return nil }
            return "io.output_cap (\(ByteCountText.text(bytes: io.outputCap))) must be at least"
                + " io.buffer_size (\(ByteCountText.text(bytes: io.bufferSize)))"
        },
        // Otherwise a client is cut off by the first line that long, however fast it reads.
        Constraint(["io.output_cap", "relay.max_line", "broadcast.message", "broadcast.greeting"]) { configuration in
            let cap = configuration.io.outputCap
            let longest = configuration.longestPushedLine
            guard cap < longest.bytes else { return nil }
            return "io.output_cap (\(ByteCountText.text(bytes: cap))) must be at least the longest line sent to a"
                + " broadcast or relay client, here \(ByteCountText.text(bytes: longest.bytes)) (\(longest.cause));"
                + " that line follows relay.max_line, broadcast.message and broadcast.greeting"
        },
        // A rendered line must fit one chunk, and a worker needs a few chunks to keep sending
        // while others wait for their sends to complete.
        Constraint([
            "io.output_memory", "echo.max_line", "relay.max_line", "greet.message", "counter.message",
            "broadcast.message", "broadcast.greeting",
        ]) { configuration in
            let memory = configuration.io.outputMemory
            let chunk = configuration.outputChunkSize
            guard memory < 4 * chunk else { return nil }
            let longest = configuration.longestRenderedLine
            return "io.output_memory (\(ByteCountText.text(bytes: memory))) must be at least 4 x the output chunk size"
                + " (4 x \(ByteCountText.text(bytes: chunk)) = \(ByteCountText.text(bytes: 4 * chunk))); a chunk is the"
                + " longest line ringd renders rounded up to a power of two, here \(ByteCountText.text(bytes: longest.bytes))"
                + " (\(longest.cause)); that line follows echo.max_line, relay.max_line, greet.message, counter.message,"
                + " broadcast.message and broadcast.greeting"
        },
        // A relay host's default names end in its node (client7@NODE), a name of at most 32 bytes;
        // its lines carry it to the other hosts, where a space ends it.
        Constraint(["server.mode", "cluster.redis", "cluster.node"]) { configuration in
            let node = configuration.cluster.node
            guard configuration.server.mode == .relay, configuration.cluster.redis != nil, !node.isEmpty else { return nil }
            guard node.utf8.count > RelayName.maximumNodeCount || !node.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
            else { return nil }
            return "cluster.node (\"\(node)\") must be 1 to \(RelayName.maximumNodeCount) visible ASCII characters without"
                + " spaces in relay mode with a cluster: it ends every default name (client7@NODE), 32 bytes at most"
        },
        // The metrics socket is bound without SO_REUSEPORT: on a service port it would fail to bind.
        Constraint(["server.listen", "metrics.listen"]) { configuration in
            guard let metrics = configuration.metrics.listen, metrics.port != 0,
                configuration.server.listen.contains(metrics)
            else { return nil }
            return "metrics.listen (\(metrics)) is also in server.listen: the metrics endpoint needs a port of its own"
        },
    ]

    /// Table names in the order they are first used in `keys`.
    static let tableNames: [String] = keys.reduce(into: []) { names, key in
        if !names.contains(key.table) { names.append(key.table) }
    }

    static func key(_ table: String, _ name: String) -> ConfigurationKey? {
        keys.first { $0.table == table && $0.name == name }
    }

    static func keys(in table: String) -> [ConfigurationKey] {
        keys.filter { $0.table == table }
    }
}

/// One key of the configuration: where it lives, what it accepts, its default, and the field of
/// `Configuration` it sets.
struct ConfigurationKey: Sendable {
    let table: String
    let name: String
    /// One line, written as a comment beside the key in rendered documents.
    let documentation: String
    /// The values it accepts ("1...65535"), when there is more to say than its type.
    let summary: String?
    let defaultValue: TOMLValue
    /// Checks `value` and stores it in the key's field.
    let assign: @Sendable (TOMLValue, inout Configuration) throws(ValueProblem) -> Void
    /// The key's field in `configuration`, written as TOML.
    let currentValue: @Sendable (Configuration) -> TOMLValue
    let applyDefault: @Sendable (inout Configuration) -> Void
    /// How `--set` reads a value that is not valid TOML; nil when the key needs TOML syntax.
    let bareValue: (@Sendable (String) -> TOMLValue)?
    /// Whether SIGHUP applies a new value or keeps the running one until a restart.
    let reload: ReloadBehavior
    /// Sets the key's field in `next` back to its value in `running`; true if the two differed.
    let keepRunningValue: @Sendable (_ running: Configuration, _ next: inout Configuration) -> Bool

    /// `table.name`
    var path: String { "\(table).\(name)" }

    init<Value: Sendable & Equatable>(
        _ table: String, _ name: String, _ kind: ValueKind<Value>, default defaultValue: Value,
        _ field: WritableKeyPath<Configuration, Value> & Sendable, reload: ReloadBehavior, _ documentation: String
    ) {
        self.table = table
        self.name = name
        self.documentation = documentation
        self.summary = kind.summary
        self.defaultValue = kind.encode(defaultValue)
        self.assign = { value, configuration throws(ValueProblem) in
            configuration[keyPath: field] = try kind.decode(value)
        }
        self.currentValue = { configuration in kind.encode(configuration[keyPath: field]) }
        self.applyDefault = { configuration in configuration[keyPath: field] = defaultValue }
        self.bareValue = kind.bareValue
        self.reload = reload
        self.keepRunningValue = { running, next in
            guard next[keyPath: field] != running[keyPath: field] else { return false }
            next[keyPath: field] = running[keyPath: field]
            return true
        }
    }
}

/// When a new value of a key takes effect.
enum ReloadBehavior: Sendable {
    /// On SIGHUP, in every worker: messages, limits checked per connection, timers, access lists.
    case live
    /// Only when ringd starts again: the key sizes what is made once at start-up (sockets,
    /// threads, rings, buffers, connection slots, output memory), chooses how each connection is
    /// read (the mode, line framing), or is read by a worker only as it starts (the drain
    /// timeout). SIGHUP keeps the running value and logs the key.
    case restart
}

/// A rule over several keys. `violation` returns nil when the rule holds and otherwise a message
/// naming every key involved.
struct Constraint: Sendable {
    /// `table.key` paths; an error is reported where the last of them was set.
    let paths: [String]
    let violation: @Sendable (Configuration) -> String?

    init(_ paths: [String], violation: @escaping @Sendable (Configuration) -> String?) {
        self.paths = paths
        self.violation = violation
    }
}

extension ListenAddress {
    static let loopback7000 = try! ListenAddress(parsing: "127.0.0.1:7000")
}

extension Configuration {
    /// Why `io.completion_entries` is too small for this configuration, with the size that fits,
    /// or nil. A broadcast tick or a relayed line reaches every client of a worker in one
    /// iteration, a completion each, so a queue smaller than `server.max_connections` overflows
    /// then (see the key's default above). Not an error: the queue still works, slowly.
    public var completionQueueWarning: String? {
        let entries = io.completionEntries
        let slots = server.maxConnections
        guard server.mode == .broadcast || server.mode == .relay, entries < slots else { return nil }
        return "io.completion_entries (\(entries)) is below server.max_connections (\(slots)): a \(server.mode.rawValue) line"
            + " to that many clients overflows the completion queue, which stalls accepting; raise io.completion_entries to"
            + " \(min(nextPowerOfTwo(slots), 65536))"
    }
}
