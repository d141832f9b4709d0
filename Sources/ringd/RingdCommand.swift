// ringd: arguments -> configuration -> start. Nothing else lives here.

import ArgumentParser
import Logging
import RingdConfig
import RingdMetrics
import RingdServer

#if canImport(Glibc)
    import Glibc
#endif

@main
struct RingdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ringd",
        abstract: "A TCP server on io_uring: one ring and one SO_REUSEPORT listener per core.",
        // Each paragraph is one line here: ArgumentParser wraps the text to the terminal's width
        // (COLUMNS, else 80), so a break written by hand would be broken again mid-sentence. The
        // lists are one short line per entry, each under 80 columns.
        discussion: """
            The configuration comes from the file given with --config (TOML-lite; see conf/ringd.toml for every key and its default), then the flags below, then each --set in order; later ones win. Without a file ringd echoes on 127.0.0.1:7000.

            Modes (server.mode; conf/ has a commented file for each):
              greet      send [greet] message, then close
              counter    tell each client how many connections came before it, then close
              echo       send every byte back (or whole lines: echo.lines)
              broadcast  send [broadcast] message to every client every broadcast.interval
              relay      line chat: each line goes to every other client as "NAME: line"

            With echo.line_numbers = true, echo numbers its lines "1: ..." like the Perl echo server. In relay, /msg NAME text goes to one client, /who lists who is online, /nick NAME renames a client and /quit leaves. [access] allow and deny take CIDR ranges; a refused client is closed at once.

            --listen unix:/PATH listens on a Unix socket (all workers accept from it), with the permissions of server.unix_mode (default 0660); a stale socket file is replaced, and ringd stops if another process accepts there. Its clients are "unix" in {peer} and logs.

            When every worker listens, ringd prints one line per address on stdout, and one for the metrics endpoint when metrics.listen is set:
              ringd: echo listening on 127.0.0.1:7000 (2 workers)
              ringd: metrics listening on 127.0.0.1:9464

            SIGINT or SIGTERM stops accepting, lets queued output drain (server.drain_timeout) and exits 0; a second signal exits at once. SIGHUP reads the --config file again: messages, intervals, limits, access lists and the log level change at once; an invalid file keeps the running configuration and logs the error with its position.

            ringd --takeover PATH replaces the ringd whose server.control_socket is PATH without closing a listener: it takes that ringd's listening sockets and accepts on them; the old one then stops accepting, serves its open connections until they close (at most server.drain_timeout, then it drains as on SIGTERM) and exits 0.

            Under systemd (Type=notify; conf/ringd.service), ringd reports READY=1 once every worker listens, RELOADING=1 and READY=1 around a SIGHUP, STOPPING=1 when the drain starts, its open connections in STATUS=, and WATCHDOG=1 at half of WatchdogSec= while every worker's loop is turning. With metrics.listen set, GET /metrics answers the Prometheus text format.

            Events go to stderr through swift-log, one line each, from --log-level (or server.log_level) up: connections at trace; refusals, cuts and idle closes at debug, with the client's address; reloads, cut summaries and each worker's counters at info:
              ringd: debug: worker=1 peer=127.0.0.1:50522: closed: no input for 300000 ms

            Examples:
              ringd --config conf/echo.toml
              ringd --mode relay --listen 127.0.0.1:7005
              ringd --mode broadcast --set broadcast.interval=100ms
              ringd --listen 127.0.0.1:0 --listen [::1]:0 --workers 2
              ringd --mode greet --listen unix:/run/ringd/greet.sock
              ringd --check --config conf/echo.toml --set io.buffer_count=4096
              ringd --config conf/echo.toml --set metrics.listen=127.0.0.1:9464
              ringd --takeover /run/ringd/control.sock --config /etc/ringd/ringd.toml
            """,
        version: RingdBuild.version
    )

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Read the configuration from FILE.", valueName: "FILE"))
    var config: String?

    @Option(
        name: .long, parsing: .unconditionalSingleValue,
        help: ArgumentHelp(
            "Listen on HOST:PORT (IPv6 as [::1]:PORT; port 0 picks a free port), or on the Unix socket unix:/PATH. Repeat for more; replaces server.listen.",
            valueName: "HOST:PORT|unix:/PATH"))
    var listen: [String] = []

    @Option(
        name: .long, parsing: .unconditional,
        help: ArgumentHelp(
            "The service: \(ServiceMode.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "MODE"))
    var mode: String?

    @Option(
        name: .long, parsing: .unconditional,
        help: ArgumentHelp(
            "Worker threads, each with its own ring: a count, or auto for one per CPU ringd may run on.", valueName: "N|auto"))
    var workers: String?

    @Option(
        name: .long, parsing: .unconditional,
        help: ArgumentHelp(
            "Log events at LEVEL and above to stderr: \(LogLevel.allCases.map(\.rawValue).joined(separator: ", ")); replaces server.log_level (default info).",
            valueName: "LEVEL"))
    var logLevel: String?

    @Option(
        name: .customLong("set"), parsing: .unconditionalSingleValue,
        help: ArgumentHelp(
            "Set any configuration key, e.g. --set io.buffer_count=4096. Repeatable; applied last.",
            valueName: "TABLE.KEY=VALUE"))
    var settings: [String] = []

    @Option(
        name: .long, parsing: .unconditional,
        help: ArgumentHelp(
            "Replace the ringd whose server.control_socket is PATH without closing a listener: take its listening sockets, accept on them, then let it serve its open connections out and exit.",
            valueName: "PATH"))
    var takeover: String?

    @Flag(name: .long, help: "Validate the configuration, print the effective configuration, and exit.")
    var check = false

    @Flag(
        name: .long,
        help: ArgumentHelp(
            "At exit, print each worker's counters as one JSON line on stdout: {\"workers\":[{\"accepted\":N,...},...]}, with a cluster followed by ,\"node\":NAME."
        ))
    var statsJson = false

    /// An argument ArgumentParser cannot parse (an unknown flag, a flag without its value) ends
    /// like a bad value: one `ringd: error:` line naming it, and status 2. ArgumentParser's own
    /// ending is a usage block and status 64, a second convention for scripts to know.
    /// `--help` and the errors `run` throws end as ArgumentParser ends them.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error where error is ExitCode || exitCode(for: error) == .success {
            exit(withError: error)
        } catch {
            let oneLine = message(for: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            printError("\(oneLine) (ringd --help lists every flag)")
            Glibc.exit(2)
        }
    }

    func run() throws {
        let configuration: Configuration
        do {
            configuration = try Configuration.load(file: config, overrides: overrides)
        } catch {
            Self.printError(flagSettings.lazy.compactMap { $0.naming(error) }.first ?? "\(error)")
            throw ExitCode(2)
        }
        if check {
            print(configuration.rendered(), terminator: "")
            return
        }
        LoggingSystem.bootstrap { label in StandardErrorLogHandler(label: label) }
        do {
            // Bound before any worker starts, so a metrics port in use stops ringd up front.
            let metrics = try configuration.metrics.listen.map(MetricsEndpoint.bind)
            defer { metrics?.stop() }
            let statistics = try Server.run(configuration: configuration, takeover: takeover, reload: reloadConfiguration) {
                ready in
                for address in ready.addresses {
                    print(
                        "ringd: \(configuration.server.mode.rawValue) listening on \(address) (\(ready.workers) \(ready.workers == 1 ? "worker" : "workers"))"
                    )
                }
                if let metrics {
                    metrics.start(ready.status, version: RingdBuild.version)
                    print("ringd: metrics listening on \(metrics.address)")
                }
                fflush(nil)
            }
            if statsJson {
                // With a cluster, the node too, after the workers (scripts find the line by its start).
                let node = ClusterIdentity(configuration.cluster).map { ",\"node\":" + TOMLValue.string($0.node).canonicalJSON }
                print("{\"workers\":[\(statistics.map(\.json).joined(separator: ","))]\(node ?? "")}")
            }
        } catch {
            Self.printError("\(error)")
            throw ExitCode(1)
        }
    }

    /// SIGHUP: the file and the same flags again. Without a file there is nothing new to read.
    private func reloadConfiguration() throws -> Configuration {
        guard config != nil else { throw ReloadUnavailable() }
        return try Configuration.load(file: config, overrides: overrides)
    }

    /// The flags as configuration overrides, applied after the file and before --set.
    private var overrides: [String] { flagSettings.map(\.override) + settings }

    /// --listen, --mode, --workers and --log-level, each as the override it stands for.
    private var flagSettings: [FlagSetting] {
        var result: [FlagSetting] = []
        if !listen.isEmpty { result.append(.listen(listen)) }
        if let mode { result.append(FlagSetting("--mode", mode, override: "server.mode=\"\(mode)\"")) }
        if let workers {
            result.append(
                FlagSetting(
                    "--workers", workers, override: workers == "auto" ? "server.workers=\"auto\"" : "server.workers=\(workers)"))
        }
        if let logLevel { result.append(FlagSetting("--log-level", logLevel, override: "server.log_level=\"\(logLevel)\"")) }
        return result
    }

    private static func printError(_ message: String) {
        var standardError = FileHandleOutputStream.standardError
        print("ringd: error: \(message)", to: &standardError)
    }
}

/// Writes to standard error with write(2); ringd's executable avoids Foundation.
struct FileHandleOutputStream: TextOutputStream {
    static var standardError: FileHandleOutputStream { FileHandleOutputStream() }
    mutating func write(_ string: String) {
        var text = string
        text.withUTF8 { bytes in _ = Glibc.write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
    }
}

/// A flag that sets a configuration key. The configuration reports an error in it against the
/// override text (`--set server.mode="x":1:13: ...`), a line the user never typed; `naming`
/// puts the flag back in front of the message instead (`--mode x: ...`).
private struct FlagSetting {
    let override: String
    /// The flag as typed, one per value, with the column where that value starts in `override`.
    let typed: [(text: String, column: Int)]

    init(_ flag: String, _ value: String, override: String) {
        self.override = override
        typed = [("\(flag) \(value)", 0)]
    }

    private init(override: String, typed: [(text: String, column: Int)]) {
        self.override = override
        self.typed = typed
    }

    /// `--listen A --listen B` becomes `server.listen=["A", "B"]`; an error in element i points
    /// at its column, which tells which --listen to name.
    static func listen(_ addresses: [String]) -> FlagSetting {
        var override = "server.listen=["
        var typed: [(text: String, column: Int)] = []
        for (index, address) in addresses.enumerated() {
            if index > 0 { override += ", " }
            typed.append(("--listen \(address)", override.unicodeScalars.count + 1))
            override += "\"\(address)\""
        }
        return FlagSetting(override: override + "]", typed: typed)
    }

    /// The message for `error` naming this flag, when the error is in this flag's override.
    ///
    /// `error` stays a `ConfigurationError` all the way here, never `any Error`. Swift 6.3's
    /// optimiser miscompiles a closure that captures a typed-thrown error and boxes it as
    /// `any Error` on each call (`flagSettings.lazy.compactMap { $0.naming(error) }`): every
    /// call consumes the one captured copy, so the second reads freed strings. Release builds
    /// crashed on any bad flag after the first flag; -Onone copies correctly.
    func naming(_ error: ConfigurationError) -> String? {
        guard error.file == "--set \(override)" else { return nil }
        let flag = typed.last { $0.column <= error.column } ?? typed[0]
        return "\(flag.text): \(error.message)"
    }
}
