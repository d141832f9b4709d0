// ServerStatus: what a running server shows other threads (the metrics endpoint, systemd's
// watchdog): each worker's published statistics and when it last published them, how many
// reloads were applied or refused, and with a cluster, the node this process is.
//
// Everything here is read with relaxed atomic loads; a worker publishes with relaxed stores and
// never waits for a reader (see WorkerStatistics.swift).

import RingdConfig
import RingdServices
import RingdSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

public final class ServerStatus: Sendable {
    public let mode: ServiceMode
    /// The task-running mode the kernel accepted for the rings (`deferred` or `cooperative`).
    public let taskRunMode: String
    /// The bound listen addresses, as ringd printed them.
    public let addresses: [String]
    /// Each worker's statistics as it last published them, by worker index.
    public let workers: [PublishedStatistics]
    /// With `[cluster] redis`: this process's node, prefix and Redis; nil for a host on its own.
    public let cluster: ClusterIdentity?
    private let reloadsAppliedCount = Atomic<Int>(0)
    private let reloadsFailedCount = Atomic<Int>(0)

    /// A worker publishes every sweep, at most a second apart; one that has not published for
    /// this long is taken as stuck: its loop is not turning.
    public static let stuckAfterMilliseconds: UInt32 = 3000

    package init(
        mode: ServiceMode, taskRunMode: String, addresses: [String], workers: [PublishedStatistics],
        cluster: ClusterIdentity? = nil
    ) {
        self.mode = mode
        self.taskRunMode = taskRunMode
        self.addresses = addresses
        self.workers = workers
        self.cluster = cluster
    }

    /// SIGHUPs whose configuration took effect.
    public var reloadsApplied: Int { reloadsAppliedCount.load(ordering: .relaxed) }
    /// SIGHUPs whose configuration was refused (unreadable, invalid); the running one stayed.
    public var reloadsFailed: Int { reloadsFailedCount.load(ordering: .relaxed) }

    func countReload(applied: Bool) {
        if applied {
            reloadsAppliedCount.add(1, ordering: .relaxed)
        } else {
            reloadsFailedCount.add(1, ordering: .relaxed)
        }
    }

    /// Connections open across the workers, as of their last publications.
    public var connectionsOpen: Int { workers.reduce(0) { $0 + $1.snapshot.connectionsOpen } }

    /// The workers whose loop has not published for `stuckAfterMilliseconds`: while any is
    /// listed, ringd withholds systemd's watchdog ping.
    public var stuckWorkers: [Int] {
        let now = CoarseClock.milliseconds()
        return workers.indices.filter { now &- workers[$0].lastPublished >= Self.stuckAfterMilliseconds }
    }
}

/// Which deployment a clustered process belongs to, as the metrics (`ringd_cluster_info`) and
/// `--stats-json` show it: an operator's way to tell the hosts' series apart.
public struct ClusterIdentity: Sendable {
    /// `cluster.node`, or by default `HOSTNAME:PID` (`nodeName`): the name this process logs
    /// itself as when it connects to Redis.
    public let node: String
    /// `cluster.prefix`, before every key and channel.
    public let prefix: String
    /// The shared Redis, as configured (`HOST:PORT` or `unix:/path`).
    public let redis: String

    /// nil without `[cluster] redis`.
    public init?(_ settings: ClusterSettings) {
        guard let redis = settings.redis else { return nil }
        node = settings.nodeName
        prefix = settings.prefix
        self.redis = redis.description
    }
}

extension ClusterSettings {
    /// `cluster.node`, or by default `HOSTNAME:PID` with the host name cut so that the whole is
    /// at most `RelayName.maximumNodeCount` bytes (a relay's default names end in it). The
    /// metrics, the log and the relay's names all take it from here, so they agree.
    var nodeName: String {
        guard node.isEmpty else { return node }
        var name = [CChar](repeating: 0, count: 256)
        let host =
            gethostname(&name, name.count - 1) == 0
            ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "localhost"
        let pid = ":\(getpid())"
        return String(decoding: host.utf8.prefix(max(1, RelayName.maximumNodeCount - pid.utf8.count)), as: UTF8.self) + pid
    }
}

/// What `ringd --version` prints and `ringd_build_info` carries.
public enum RingdBuild {
    public static let version = "0.1.0"
}
