// `ring-client talk` end to end against ringd's echo: lines come back unchanged, and end of
// input half-closes and waits for what is still owed.
import Foundation
import TestSupport
import Testing

@Suite("talk")
struct TalkTests {
    @Test("against ringd echo every stdin line comes back unchanged, in order")
    func linesComeBack() throws {
        let ringd = try RunningRingd(workers: 2)
        let input = (1...50).map { "line number \($0)" }.joined(separator: "\n") + "\n"
        let run = try runClient(["talk", "127.0.0.1", String(ringd.port)], standardInput: input)
        #expect(run.status == .exited(0), "\(run)")
        #expect(run.standardOutput == input, "\(run)")
    }

    @Test("a last line without a newline is sent with one")
    func lastLineGetsNewline() throws {
        let ringd = try RunningRingd(workers: 2)
        let run = try runClient(["talk", "127.0.0.1", String(ringd.port)], standardInput: "hello\nworld")
        #expect(run.status == .exited(0), "\(run)")
        #expect(run.standardOutput == "hello\nworld\n", "\(run)")
    }

    @Test("lines the server sends on its own are printed as they come")
    func unsolicitedLines() throws {
        let server = try TestServers.linesPerConnection(3)
        let run = try runClient(["talk", "127.0.0.1", String(server.port)], standardInput: "")
        #expect(run.status == .exited(0), "\(run)")
        #expect(run.outputLines == ["line 1 of connection 1", "line 2 of connection 1", "line 3 of connection 1"], "\(run)")
    }
}
