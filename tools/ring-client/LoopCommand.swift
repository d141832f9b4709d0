// `ring-client loop`: seed 000, exercise 5. Connect, read and print N lines, close, pause, and
// again, so a server's per-connection behaviour (a greeting, a count, a heartbeat) is visible
// round by round.

import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import RingdSystem

struct LoopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loop",
        abstract: "Connect, print N lines, close, pause, and again (the repeated-connection client).",
        discussion: """
            Each round opens a new connection, reads --lines lines, prints each one as \
            `round R: <line>` on stdout, closes the connection, and pauses for --pause before the \
            next round (none after the last). This is the client of the socket exercises: point \
            it at a broadcast server to see two heartbeats per connection, or at a counter to see \
            the count rise.

            Exit status 1 if a round cannot connect, or the server closes before sending all its \
            lines, or a line takes longer than --timeout; the message says which round.

            Example: ring-client loop 127.0.0.1 7003 --rounds 5 --lines 2 --pause 1s
            """)

    @OptionGroup var target: TargetArguments

    @Option(help: "How many connections to make, one after the other.")
    var rounds: Int = 5

    @Option(help: "Lines to read and print per connection.")
    var lines: Int = 2

    @Option(help: ArgumentHelp("Pause between rounds, e.g. 1s or 200ms.", valueName: "duration"))
    var pause: DurationArgument = .seconds(1)

    @Option(help: ArgumentHelp("How long to wait for the connection and for each line.", valueName: "duration"))
    var timeout: DurationArgument = .seconds(10)

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1, not \(rounds)") }
        guard lines >= 1 else { throw ValidationError("--lines must be at least 1, not \(lines)") }
        guard timeout.nanoseconds > 0 else { throw ValidationError("--timeout must be at least 1ns") }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let endpoints = try target.endpoints()
        for round in 1...rounds {
            try readRound(round, from: endpoints)
            // The connection is closed before the pause, as the seed's client does: a
            // subscriber that paused while still connected would keep receiving heartbeats.
            if round < rounds { sleepNanoseconds(pause.nanoseconds) }
        }
    }

    /// Connects, prints `lines` lines marked with the round, and closes.
    private func readRound(_ round: Int, from endpoints: [SocketAddress]) throws {
        let descriptor: Int32
        do {
            (descriptor, _) = try ClientSocket.connectWaiting(to: endpoints, timeout: timeout.duration)
        } catch {
            throw ClientError("round \(round): \(error)")
        }
        defer { _ = close(descriptor) }
        var reader = LineReader(descriptor: descriptor)
        for number in 1...lines {
            let line: String?
            do {
                line = try reader.nextLine(timeout: timeout.duration)
            } catch {
                throw ClientError("round \(round): \(error)")
            }
            guard let line else {
                throw ClientError("round \(round): the server closed the connection after \(number - 1) of \(lines) lines")
            }
            writeStandardOutput("round \(round): \(line)\n")
        }
    }
}
