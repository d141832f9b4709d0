// The typed configuration other modules read. Every field is set from one key in `Schema.keys`,
// which also holds its default; this file only declares the shapes.

import RingdServices

/// The service every connection gets.
public enum ServiceMode: String, Sendable, CaseIterable {
    case greet, counter, echo, broadcast, relay
}

/// How many event loops (one thread and one ring each) to run.
public enum WorkerCount: Sendable, Equatable {
    /// One per CPU the process may run on (its affinity mask, not the machine's CPU count).
    case auto
    /// Exactly this many, 1...1024.
    case count(Int)

    /// The number of workers, given the CPUs the process may run on.
    public func count(cpus: Int) -> Int {
        switch self {
        case .auto: cpus
        case .count(let count): count
        }
    }
}

public enum LogLevel: String, Sendable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

/// Permission bits of a file ringd creates (a Unix socket), 0...0o777.
public struct FileMode: Sendable, Equatable {
    public let bits: UInt32

    public init?(bits: UInt32) {
        guard bits <= 0o777 else { return nil }
        self.bits = bits
    }

    /// "660" or "0660"; nil for anything else than 3 or 4 octal digits up to 0777.
    public init?(octal text: String) {
        guard (3...4).contains(text.count), text.allSatisfy({ ("0"..."7").contains($0) }), let bits = UInt32(text, radix: 8)
        else { return nil }
        self.init(bits: bits)
    }

    /// Four octal digits: "0660".
    public var octal: String {
        let digits = String(bits, radix: 8)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }
}

/// `[server]`: what to serve, where, and with how many workers.
public struct ServerSettings: Sendable, Equatable {
    public var mode: ServiceMode
    /// Never empty, without duplicates.
    public var listen: [ListenAddress]
    /// The permissions of each Unix socket ringd listens on.
    public var unixMode: FileMode
    public var workers: WorkerCount
    /// Pin worker i to the i-th CPU the process may run on.
    public var pinWorkers: Bool
    /// Each pinned worker's TCP listeners take the connections whose handshake the kernel
    /// handled on the worker's CPU (SO_INCOMING_CPU); off: the reuseport group spreads them by
    /// hash.
    public var incomingCPU: Bool
    /// The listen(2) backlog, 1...65535.
    public var backlog: Int
    /// Connection slots per worker, 1...1048576.
    public var maxConnections: Int
    /// Sent to a client refused because every slot is taken, before it is closed; nil sends nothing.
    public var busyMessage: MessageTemplate?
    /// How long SIGTERM/SIGINT lets queued output drain before everything is closed; after a
    /// hand-over, how long open connections are served before that drain starts.
    public var drainTimeout: Duration
    /// Where `ringd --takeover` asks this ringd for its listening sockets (owner-only); nil = none.
    public var controlSocket: String?
    /// A client that sends nothing for this long is closed; zero never closes one. Broadcast
    /// subscribers have their own, `broadcast.idle_timeout`.
    public var idleTimeout: Duration
    public var logLevel: LogLevel
}

/// `[io]`: ring and buffer sizes per worker.
public struct IOSettings: Sendable, Equatable {
    /// Submission queue entries, a power of two 8...16384.
    public var submissionEntries: Int
    /// Completion queue entries, a power of two, at least 4 x `submissionEntries`.
    public var completionEntries: Int
    /// Provided receive buffers, a power of two 1...32768.
    public var bufferCount: Int
    /// Bytes in each receive buffer, 512...1048576.
    public var bufferSize: Int
    /// Large receive buffers for raw echo's streaming connections, a power of two 0...4096;
    /// 0 = none, every recv uses the main buffers.
    public var bulkBufferCount: Int
    /// Bytes in each large receive buffer; none are used unless it is larger than `bufferSize`.
    public var bulkBufferSize: Int
    /// Recvs fill several buffers per completion where the kernel can (Linux 6.10; raw echo
    /// also needs the kernel's limit on a multishot recv); false = one buffer per completion,
    /// as on older kernels.
    public var receiveBundles: Bool
    /// The most queued buffers or spans one send gathers (sendmsg with an iovec); 1 = one send
    /// per buffer.
    public var sendGather: Int
    /// How long a busy worker waits for more completions once one is ready, so that it wakes
    /// up once for several (Linux 6.12); zero = not at all.
    public var batchWait: Duration
    /// Bytes queued for sending per connection before echo stops reading; at least `bufferSize`.
    public var outputLimit: Int
    /// Bytes queued for one client of a push service (broadcast, relay) before it is cut off.
    public var outputCap: Int
    /// A push client whose queued output stays above this for `outputSoftTime` is cut off too
    /// (Redis's soft limit for pub/sub clients); 0 = no soft cap.
    public var outputSoftCap: Int
    /// How long a push client may stay above `outputSoftCap`.
    public var outputSoftTime: Duration
    /// Bytes of rendered output (replies, heartbeats, relayed lines) one worker may hold.
    public var outputMemory: Int
}

/// `[echo]`: how the echo service replies.
public struct EchoSettings: Sendable, Equatable {
    /// React to complete lines instead of raw bytes.
    public var lines: Bool
    /// Prefix each reply with "N: ", like the Perl echo server.
    public var lineNumbers: Bool
    /// Bytes in the longest line accepted in line mode, 1...16777216.
    public var maxLine: Int
    /// Print "[HOST PORT] line" for every line received.
    public var accessLog: Bool
}

/// `[greet]`: the message a greet connection gets before it is closed.
public struct GreetSettings: Sendable, Equatable {
    public var message: MessageTemplate
}

/// `[counter]`: the message telling a client how many connections came before it.
public struct CounterSettings: Sendable, Equatable {
    public var message: MessageTemplate
}

/// `[broadcast]`: the heartbeat every client gets.
public struct BroadcastSettings: Sendable, Equatable {
    /// Time between two heartbeats.
    public var interval: Duration
    public var message: MessageTemplate
    /// Sent once to a client when it connects; nil sends nothing.
    public var greeting: MessageTemplate?
    /// A subscriber that sends nothing for this long is closed; zero (the default) never closes
    /// one, since subscribers usually only listen.
    public var idleTimeout: Duration
}

/// `[relay]`: the line chat hub.
public struct RelaySettings: Sendable, Equatable {
    /// Tell the others when a client joins, leaves or renames itself.
    public var notices: Bool
    /// Tell a new client its name (`* you are client7`).
    public var welcome: Bool
    /// Bytes in the longest chat line accepted.
    public var maxLine: Int
}

/// `[access]`: which client addresses are served.
public struct AccessSettings: Sendable, Equatable {
    /// Served when empty or when the address is in one of these ranges (and in no deny range).
    public var allow: [AddressRange]
    /// Refused, whatever `allow` says.
    public var deny: [AddressRange]

    /// The lists as the server checks them.
    public var list: AccessList { AccessList(allow: allow, deny: deny) }
}

/// `[metrics]`: the Prometheus endpoint.
public struct MetricsSettings: Sendable, Equatable {
    /// Where `GET /metrics` is served; nil (the default, "") serves none.
    public var listen: ListenAddress?
}

/// `[cluster]`: where ringd meets the other hosts of a deployment, through Redis (or Valkey).
public struct ClusterSettings: Sendable, Equatable {
    /// Redis's address; nil (the default, "") runs one host on its own, as before clusters.
    public var redis: RedisAddress?
    /// Put before every key and channel ringd uses (`PREFIX:counter`, `PREFIX:broadcast`), so
    /// deployments can share one Redis.
    public var prefix: String
    /// For AUTH (sent with HELLO); empty with a password set means Redis's `default` user.
    public var username: String
    /// Empty sends no AUTH.
    public var password: String
    /// How this process names itself in logs and to the other hosts; empty means the host name
    /// and the process id, `HOST:PID`.
    public var node: String
    /// Sent to a counter client while Redis cannot number it, before it is closed.
    public var unavailableMessage: MessageTemplate
}

public struct Configuration: Sendable, Equatable {
    public var server: ServerSettings
    public var io: IOSettings
    public var echo: EchoSettings
    public var greet: GreetSettings
    public var counter: CounterSettings
    public var broadcast: BroadcastSettings
    public var relay: RelaySettings
    public var access: AccessSettings
    public var metrics: MetricsSettings
    public var cluster: ClusterSettings

    /// Every key at the default its schema entry gives.
    public static let defaults: Configuration = Schema.keys.reduce(into: unset) { configuration, key in
        key.applyDefault(&configuration)
    }

    /// Placeholders that `defaults` overwrites key by key. A field with no key in the schema would
    /// keep its placeholder; a test checks that every field has one.
    private static let unset = Configuration(
        server: ServerSettings(
            mode: .echo, listen: [], unixMode: FileMode(bits: 0)!, workers: .auto, pinWorkers: false, incomingCPU: false,
            backlog: 0,
            maxConnections: 0,
            busyMessage: nil, drainTimeout: .zero, controlSocket: nil, idleTimeout: .zero, logLevel: .info),
        io: IOSettings(
            submissionEntries: 0, completionEntries: 0, bufferCount: 0, bufferSize: 0, bulkBufferCount: 0, bulkBufferSize: 0,
            receiveBundles: false,
            sendGather: 0,
            batchWait: .zero,
            outputLimit: 0,
            outputCap: 0,
            outputSoftCap: 0, outputSoftTime: .zero, outputMemory: 0),
        echo: EchoSettings(lines: false, lineNumbers: false, maxLine: 0, accessLog: false),
        greet: GreetSettings(message: .placeholder),
        counter: CounterSettings(message: .placeholder),
        broadcast: BroadcastSettings(interval: .zero, message: .placeholder, greeting: nil, idleTimeout: .zero),
        relay: RelaySettings(notices: false, welcome: false, maxLine: 0),
        access: AccessSettings(allow: [], deny: []),
        metrics: MetricsSettings(listen: nil),
        cluster: ClusterSettings(
            redis: nil, prefix: "", username: "", password: "", node: "", unavailableMessage: .placeholder)
    )
}

extension MessageTemplate {
    /// What `Configuration.unset` holds until the schema's default replaces it.
    static let placeholder = try! MessageTemplate(parsing: "")
}
