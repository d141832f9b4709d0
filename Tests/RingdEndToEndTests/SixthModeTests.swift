// A mode defined outside ringd (Tests/ShoutMode: one Service conformer and the line that runs
// it) served end to end by the real engine: every line of every client comes back upper-cased,
// in order, across two workers. Shout pauses reading after each line and resumes when its reply
// has gone, so this also drives the contract's pause, resume and output-drained events.
import TestSupport
import Testing

@Suite("A sixth mode")
struct SixthModeTests {
    @Test("ringd-shout answers 4 clients x 300 pipelined lines, each upper-cased, in order")
    func shoutAnswersEveryLineInOrder() throws {
        let shout = try RunningRingd(
            arguments: [#"server.listen=["127.0.0.1:0"]"#, "server.workers=2"], expectedListeners: 1,
            executable: try RingdPaths.shoutBinary())
        defer { shout.stop() }
        #expect(shout.listeningLines.first?.hasPrefix("ringd: shout listening on 127.0.0.1:") == true, "\(shout.listeningLines)")
        let clients = try (0..<4).map { _ in try LineConnection(connectingTo: shout.endpoint) }
        let lines = 300
        for (client, connection) in clients.enumerated() {
            try connection.send((0..<lines).map { "line \($0) from client \(client): mixed Case\n" }.joined())
        }
        for (client, connection) in clients.enumerated() {
            let replies = try connection.readLines(lines)
            let expected = (0..<lines).map { Array("LINE \($0) FROM CLIENT \(client): MIXED CASE\n".utf8) }
            #expect(replies == expected, "client \(client): first reply \(quoted(replies.first ?? []))")
        }
    }
}
