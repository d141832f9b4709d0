// `ring-client loop` end to end: rounds of connect, read N lines, close.
import Foundation
import TestSupport
import Testing

@Suite("loop")
struct LoopTests {
    @Test("against a server sending two lines per connection, prints 5 x 2 lines with their rounds")
    func fiveRoundsOfTwoLines() throws {
        let server = try TestServers.linesPerConnection(2)
        let run = try runClient(["loop", "127.0.0.1", String(server.port), "--pause", "20ms"])
        #expect(run.status == .exited(0), "\(run)")
        var expected: [String] = []
        for round in 1...5 {
            for line in 1...2 { expected.append("round \(round): line \(line) of connection \(round)") }
        }
        #expect(run.outputLines == expected, "\(run)")
    }

    @Test("a server that sends fewer lines than asked for fails, naming the round")
    func tooFewLines() throws {
        let server = try TestServer { socket, _ in _ = try? sendAll(socket, "only line\n") }
        let run = try runClient(["loop", "127.0.0.1", String(server.port), "--rounds", "2", "--pause", "10ms"])
        #expect(!run.status.killedBySignal && run.status.code != 0, "\(run)")
        #expect(run.outputLines == ["round 1: only line"], "\(run)")
        #expect(run.standardError.contains("round 1: the server closed the connection after 1 of 2 lines"), "\(run)")
    }
}
