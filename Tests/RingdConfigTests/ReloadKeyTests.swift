// Which keys SIGHUP may change: the flag on each schema key, and the comparison that keeps the
// running value of every key that needs a restart.

import Testing
@testable import RingdConfig

@Suite struct ReloadKeyTests {
    /// Keys that size what a worker makes once at start-up (sockets, threads, rings, buffers,
    /// slots, output memory), choose how every connection is read, or are read once by a worker
    /// as it starts (the drain timeout, the batch wait).
    private static let restartPaths: Set<String> = [
        "server.mode", "server.listen", "server.unix_mode", "server.workers", "server.pin_workers", "server.incoming_cpu", "server.backlog",
        "server.max_connections", "server.drain_timeout", "server.control_socket",
        "io.submission_entries", "io.completion_entries", "io.buffer_count", "io.buffer_size", "io.send_gather", "io.receive_bundles",
        "io.batch_wait", "io.bulk_buffer_count", "io.bulk_buffer_size",
        "io.output_memory", "echo.lines", "echo.line_numbers", "echo.max_line", "echo.access_log",
        "relay.max_line", "metrics.listen",
        "cluster.redis", "cluster.prefix", "cluster.username", "cluster.password", "cluster.node",
    ]

    @Test func theKeysThatNeedSocketsThreadsOrMemoryAreRestartKeys() {
        let restart = Set(Schema.keys.filter { $0.reload == .restart }.map(\.path))
        #expect(restart == Self.restartPaths)
    }

    @Test func everyOtherKeyIsLive() {
        let live = Set(Schema.keys.filter { $0.reload == .live }.map(\.path))
        #expect(live.isDisjoint(with: Self.restartPaths))
        #expect(live.union(Self.restartPaths) == Set(Schema.keys.map(\.path)))
        #expect(live.contains("greet.message") && live.contains("access.deny") && live.contains("server.log_level"))
    }

    @Test func anUnchangedFileKeepsNothing() {
        let (next, kept) = Configuration.defaults.keepingRestartValues(of: Configuration.defaults)
        #expect(next == Configuration.defaults)
        #expect(kept.isEmpty)
    }

    @Test func restartKeysKeepTheirRunningValuesAndLiveKeysChange() throws {
        let running = Configuration.defaults
        let read = try Configuration.parse(
            text: """
                [server]
                workers = 3
                backlog = 10
                log_level = "debug"
                [io]
                output_limit = "8KiB"
                [echo]
                access_log = true
                max_line = "1KiB"
                [greet]
                message = "changed\\n"
                """,
            file: "t.toml", overrides: [])
        let (next, kept) = read.keepingRestartValues(of: running)
        #expect(kept == ["server.workers", "server.backlog", "echo.max_line", "echo.access_log"])
        #expect(next.server.workers == running.server.workers && next.server.backlog == running.server.backlog)
        #expect(next.echo == running.echo)
        #expect(next.server.logLevel == .debug)
        #expect(next.io.outputLimit == 8 << 10)
        #expect(next.greet.message.text == "changed\n")
    }

    @Test func everyRestartKeyIsKeptWhenItAloneChanges() throws {
        for key in Schema.keys where key.reload == .restart {
            var read = Configuration.defaults
            try key.assign(Self.otherValue(for: key), &read)
            let (next, kept) = read.keepingRestartValues(of: .defaults)
            #expect(kept == [key.path])
            #expect(next == .defaults, "\(key.path)")
        }
    }

    /// A valid value of `key` other than its default.
    private static func otherValue(for key: ConfigurationKey) -> TOMLValue {
        if case .boolean(let value) = key.defaultValue { return .boolean(!value) }
        return switch key.path {
        case "server.mode": .string("relay")
        case "server.listen": .array([.string("127.0.0.1:7001")])
        case "server.unix_mode": .string("0600")
        case "server.control_socket": .string("/run/ringd/control.sock")
        case "server.workers": .integer(2)
        case "server.drain_timeout": .string("1s")
        case "server.backlog", "server.max_connections": .integer(64)
        case "io.submission_entries": .integer(256)
        case "io.completion_entries": .integer(8192)
        case "io.buffer_count": .integer(512)
        case "io.buffer_size": .integer(8192)
        case "io.bulk_buffer_count": .integer(16)
        case "io.bulk_buffer_size": .integer(128 << 10)
        case "io.send_gather": .integer(4)
        case "io.batch_wait": .string("50us")
        case "io.output_memory": .integer(128 << 20)
        case "echo.max_line", "relay.max_line": .integer(1000)
        case "metrics.listen": .string("127.0.0.1:9464")
        case "cluster.redis": .string("127.0.0.1:6379")
        case "cluster.prefix": .string("other")
        case "cluster.username", "cluster.password", "cluster.node": .string("x")
        default: .string("no other value for \(key.path)")
        }
    }
}
