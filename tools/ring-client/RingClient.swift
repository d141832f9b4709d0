// ring-client: the companion client and load generator for ringd, usable against any TCP server.
//
//   ring-client loop HOST PORT     connect, read N lines, close, pause, again (seed 000, ex. 5)
//   ring-client talk HOST PORT     an interactive line client (seeds 001 and 002)
//   ring-client bench MODE ...     io_uring load generator: echo, connect, broadcast, relay
//
// The executable is thin: argument parsing here, the work in the files named after each command.

import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

@main
struct RingClient: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ring-client",
        abstract: "A client and load generator for ringd, or for any TCP server.",
        discussion: """
            loop and talk are the clients of the socket exercises: they connect with ordinary \
            sockets and print what the server sends. bench is a load generator built on io_uring \
            (Linux 6.0 or later, one ring per thread) that checks what it receives and reports \
            throughput and latency percentiles.

            Run `ring-client help <subcommand>` for each one's options.
            """,
        subcommands: [LoopCommand.self, TalkCommand.self, BenchCommand.self])

    /// ArgumentParser's main with the exit statuses the help texts promise: 1 for a bad argument
    /// as for any other setup failure (ArgumentParser's own is EX_USAGE, 64), a ClientError's
    /// own status, and 2 left to a benchmark that ran and saw data errors.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as ClientError {
            writeStandardError("ring-client: error: \(error)\n")
            Glibc.exit(error.exitStatus)
        } catch {
            // Help, and a benchmark's ExitCode(2), end the way ArgumentParser ends them.
            if error is ExitCode || exitCode(for: error) == .success { exit(withError: error) }
            // One line that starts `ring-client: error:`, as every other failure does.
            let oneLine = message(for: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            writeStandardError("ring-client: error: \(oneLine) (ring-client help lists the options)\n")
            Glibc.exit(ExitCode.failure.rawValue)
        }
    }
}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load-test a server on io_uring: echo, connect, broadcast, or relay.",
        discussion: """
            Each worker thread (--threads) has its own io_uring and an equal share of the \
            connections; the main thread only keeps time. Every mode prints a progress line per \
            second on stderr and a summary on stdout (--json for one JSON object), and exits \
            with status 2 if it saw any data error, naming what it saw.
            """,
        subcommands: [EchoCommand.self, ConnectCommand.self, BroadcastCommand.self, RelayCommand.self])
}
