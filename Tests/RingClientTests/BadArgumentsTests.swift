// Every ring-client subcommand, given a bad argument or a target nobody serves, ends with a
// `ring-client: error:` that names the cause (the option as typed, where an option is at fault)
// and exit status 1 or 2: never a signal, never a hang. In CI the binary is the release build
// (RING_CLIENT_BIN), where an optimiser bug would show.
import Foundation
import TestSupport
import Testing

@Suite("bad arguments")
struct BadArgumentsTests {
    /// A command line that must fail, and the words its error must contain.
    struct BadCommandLine: Sendable, CustomTestStringConvertible {
        let arguments: [String]
        let expected: [String]

        var testDescription: String { arguments.map { $0.isEmpty ? "''" : $0 }.joined(separator: " ") }
    }

    /// Stands for a loopback port that was listened on and closed just before the run, so a
    /// connect to it is refused at once.
    static let refusedPort = "<refused port>"

    /// A name that fails to resolve without a DNS query leaving the machine: glibc refuses a
    /// label longer than 63 bytes before it builds the query.
    static let unresolvableHost = String(repeating: "a", count: 64) + ".invalid"

    static let subcommands: [[String]] = [["loop"], ["talk"], ["bench", "echo"], ["bench", "connect"], ["bench", "broadcast"], ["bench", "relay"]]

    /// The options of each subcommand that take a duration.
    static func durationOptions(_ subcommand: [String]) -> [String] {
        switch subcommand.last {
        case "loop": ["--pause", "--timeout"]
        case "talk": ["--wait", "--connect-timeout"]
        case "broadcast": ["-d", "-W", "--timeout", "--connect-timeout", "--drain"]
        case "relay": ["-d", "-W", "--timeout", "--connect-timeout", "--settle", "--drain"]
        default: ["-d", "-W", "--timeout", "--connect-timeout"]
        }
    }

    static let commandLines: [BadCommandLine] = subcommands.flatMap { subcommand in
        func line(_ target: [String], _ options: [String], _ expected: [String]) -> BadCommandLine {
            BadCommandLine(arguments: subcommand + target + options, expected: expected)
        }
        let target = ["127.0.0.1", refusedPort]
        var lines = [
            // The target.
            line(target, [], ["connection refused by 127.0.0.1:"]),
            line([unresolvableHost, "7000"], [], ["cannot resolve \(unresolvableHost)"]),
            line(["", "7000"], [], ["<host> is empty"]),
            line(["127.0.0.1:7000", "7000"], [], ["<host> '127.0.0.1:7000' looks like HOST:PORT"]),
            line(["127.0.0.1", "0"], [], ["<port> must be between 1 and 65535, not 0"]),
            line(["127.0.0.1", "70000"], [], ["<port> must be between 1 and 65535, not 70000"]),
            line(["127.0.0.1", "-1"], [], ["<port>"]),
            line(["127.0.0.1", "seven"], [], ["'seven' is invalid for '<port>'"]),
            line(["127.0.0.1"], [], ["Missing expected argument '<port>'"]),
            line(target, ["--no-such-option"], ["Unknown option '--no-such-option'"]),
            line(target, ["surplus"], ["Unexpected argument 'surplus'"]),
        ]
        // Durations: a unit nobody knows, named under every option that takes a duration; the
        // rest (negative, which as a separate word reads as an option, nothing at all, values a
        // duration cannot hold) under the first, since all of them parse durations alike.
        let durations = durationOptions(subcommand)
        for option in durations {
            lines.append(line(target, [option, "5parsecs"], ["'5parsecs' is invalid for '\(option) <duration>'"]))
        }
        let option = durations[0]
        lines += [
            line(target, ["\(option)=-1s"], ["'-1s' is invalid for '\(option) <duration>'"]),
            line(target, [option, "-1s"], ["Missing value for '\(option) <duration>'"]),
            line(target, [option, ""], ["'' is invalid for '\(option) <duration>'"]),
            line(target, [option, "nan"], ["'nan' is invalid for '\(option) <duration>'"]),
            line(target, [option, "99999999h"], ["'99999999h' is invalid for '\(option) <duration>'"]),
            line(target, [option], ["Missing value for '\(option) <duration>'"]),
        ]
        return lines
    } + commandSpecificLines

    /// Numbers out of range or not numbers, and combinations, where each subcommand has them.
    static let commandSpecificLines: [BadCommandLine] = {
        let target = ["127.0.0.1", refusedPort]
        var lines = [
            BadCommandLine(arguments: ["loop"] + target + ["--rounds", "0"], expected: ["--rounds must be at least 1, not 0"]),
            BadCommandLine(arguments: ["loop"] + target + ["--lines=-3"], expected: ["--lines must be at least 1, not -3"]),
            BadCommandLine(arguments: ["loop"] + target + ["--lines", "two"], expected: ["'two' is invalid for '--lines <lines>'"]),
            BadCommandLine(arguments: ["loop"] + target + ["--timeout", "0s"], expected: ["--timeout must be at least 1ns"]),
            BadCommandLine(arguments: ["talk"] + target + ["--connect-timeout", "0s"], expected: ["--connect-timeout must be at least 1ns"]),
            BadCommandLine(arguments: ["bench", "echo"] + target + ["-s", "0"], expected: ["-s/--size must be between 1 and 16777216 bytes, not 0"]),
            BadCommandLine(arguments: ["bench", "echo"] + target + ["--depth", "5000"], expected: ["-p/--depth must be between 1 and 4096, not 5000"]),
            BadCommandLine(arguments: ["bench", "relay"] + target + ["-s", "70000"], expected: ["-s/--size must be between 0 and 60000 bytes, not 70000"]),
            BadCommandLine(arguments: ["bench", "relay"] + target + ["-c", "1"], expected: ["relay needs 2 to 8192 clients (-c/--connections), not 1"]),
            BadCommandLine(arguments: ["bench", "broadcast"] + target + ["-n", "5"], expected: ["-n/--count applies to echo and connect"]),
            BadCommandLine(arguments: ["bench", "echo", "::1", refusedPort, "-B", "2"], expected: ["--spread picks sources in 127.0.0.0/8"]),
        ]
        for mode in ["echo", "relay"] {
            let bench = ["bench", mode] + target
            let ceiling = mode == "echo" ? "1e9" : "1e8"
            lines += [
                BadCommandLine(arguments: bench + ["--rate", "0"], expected: ["--rate must be between 0.001 and \(ceiling)", "not 0.0"]),
                BadCommandLine(arguments: bench + ["--rate=-5"], expected: ["--rate must be between 0.001 and \(ceiling)", "not -5.0"]),
                BadCommandLine(arguments: bench + ["--rate", "1e-300"], expected: ["--rate must be between 0.001", "not 1e-300"]),
                BadCommandLine(arguments: bench + ["--rate", "1e12"], expected: ["--rate must be between 0.001", "not 1000000000000.0"]),
                BadCommandLine(arguments: bench + ["--rate", "nan"], expected: ["--rate must be between 0.001", "not nan"]),
                BadCommandLine(arguments: bench + ["--rate", "fast"], expected: ["'fast' is invalid for '--rate <rate>'"]),
                BadCommandLine(arguments: bench + ["--rate", "0", "--connections", "0"], expected: ["-c/--connections must be between 1 and 1000000, not 0"]),
            ]
        }
        for mode in ["echo", "connect", "broadcast", "relay"] {
            let bench = ["bench", mode] + target
            lines += [
                BadCommandLine(arguments: bench + ["-c", "0"], expected: ["-c/--connections must be between 1 and 1000000, not 0"]),
                BadCommandLine(arguments: bench + ["--connections", "2000000"], expected: ["-c/--connections must be between 1 and 1000000, not 2000000"]),
                BadCommandLine(arguments: bench + ["-c", "many"], expected: ["'many' is invalid for '-c <connections>'"]),
                BadCommandLine(arguments: bench + ["-t", "0"], expected: ["-t/--threads must be between 1 and 256, not 0"]),
                BadCommandLine(arguments: bench + ["--spread", "255"], expected: ["-B/--spread must be between 1 and 254, not 255"]),
                BadCommandLine(arguments: bench + ["-d", "0s"], expected: ["-d/--duration must be at least 1ns"]),
                BadCommandLine(arguments: bench + ["--timeout", "0s"], expected: ["--timeout must be at least 1ns"]),
                BadCommandLine(arguments: bench + ["--connect-timeout", "0"], expected: ["--connect-timeout must be at least 1ns"]),
                BadCommandLine(arguments: ["bench", mode, "127.0.0.1", "0", "-c", "0", "-d", "5parsecs"], expected: ["'5parsecs' is invalid for '-d <duration>'"]),
                BadCommandLine(arguments: ["bench", mode, "", "70000", "-c", "0"], expected: ["<host> is empty"]),
            ]
            if mode == "echo" || mode == "connect" {
                lines.append(BadCommandLine(arguments: bench + ["-n", "0"], expected: ["-n/--count must be at least 1"]))
                lines.append(BadCommandLine(arguments: bench + ["-n", "-1"], expected: ["Missing value for '-n <count>'"]))
            }
        }
        return lines
    }()

    @Test("ends with a named error and exit status 1 or 2, no signal, no hang", arguments: commandLines)
    func namedError(_ commandLine: BadCommandLine) throws {
        var arguments = commandLine.arguments
        if let index = arguments.firstIndex(of: Self.refusedPort) { arguments[index] = try Self.closedPort() }
        let run = try runClient(arguments, timeout: .seconds(15))
        #expect(!run.status.killedBySignal, "\(run)")
        #expect(run.status == .exited(1) || run.status == .exited(2), "\(run)")
        #expect(run.standardError.contains("ring-client: error: "), "\(run)")
        for words in commandLine.expected {
            #expect(run.standardError.contains(words), "missing \"\(words)\": \(run)")
        }
    }

    /// A port on 127.0.0.1 that was just listened on and closed: nothing listens there now.
    static func closedPort() throws -> String {
        let listener = try TestServer { _, _ in }
        listener.stop()
        return String(listener.port)
    }
}
