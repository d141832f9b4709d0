// `ring-client --help` explains every subcommand.
import Foundation
import TestSupport
import Testing

@Suite("help")
struct HelpTests {
    @Test("the top-level help lists loop, talk and bench; bench lists its four modes")
    func subcommandsAreListed() throws {
        let top = try runClient(["--help"])
        #expect(top.status == .exited(0), "\(top)")
        for name in ["loop", "talk", "bench"] { #expect(top.standardOutput.contains(name), "\(top)") }
        let bench = try runClient(["bench", "--help"])
        for name in ["echo", "connect", "broadcast", "relay"] { #expect(bench.standardOutput.contains(name), "\(bench)") }
    }

    @Test("bench echo's help explains the options and the exit status")
    func echoHelp() throws {
        let run = try runClient(["bench", "echo", "--help"])
        for text in ["--connections", "--size", "--depth", "--rate", "--duration", "--count", "--warmup", "--threads", "--spread", "--json", "coordinated", "Exit status"] {
            #expect(run.standardOutput.contains(text), "missing \(text): \(run)")
        }
    }
}
