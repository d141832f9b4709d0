// The contract's own parts, and the line services driven through it as the engine drives them:
// events in, actions out, no socket.

import RingdServices
import Testing

@Suite struct ServiceContractTests {
    @Test func actionsKeepTheirOrderUpToThree() {
        var actions = ServiceActions()
        #expect(actions.isEmpty)
        actions.append(.send(bytes: 0..<3, to: .one(slot: 1)))
        actions.append(.pauseReading(slot: 1))
        actions.append(.closeAfterOutput(slot: 1))
        #expect(Array(actions) == [.send(bytes: 0..<3, to: .one(slot: 1)), .pauseReading(slot: 1), .closeAfterOutput(slot: 1)])
    }

    @Test func echoLinesAnswersEachConnectionWithItsOwnNumbers() {
        var echo = EchoLinesService(numbering: true, maxLine: 64, capacity: 4)
        let scratch = ScratchWriter(capacity: 4096)
        _ = echo.opened(0, peer: loopbackPeer, context: anyContext, into: &scratch.writer)
        _ = echo.opened(3, peer: loopbackPeer, context: anyContext, into: &scratch.writer)
        func say(_ slot: Int, _ text: String) -> String {
            let actions = withLine(text) { echo.received($0, from: slot, into: &scratch.writer) }
            guard actions.count == 1, case .send(let range, .one(slot)) = actions[0] else { return "unexpected \(Array(actions))" }
            return scratch.text(range)
        }
        #expect(say(0, "Here we go...\n") == "1: Here we go...\n")
        #expect(say(3, "other\r\n") == "1: other\r\n")
        #expect(say(0, "again\n") == "2: again\n")
        // A slot's next connection counts from 1 again.
        _ = echo.opened(0, peer: loopbackPeer, context: anyContext, into: &scratch.writer)
        #expect(say(0, "fresh\n") == "1: fresh\n")
        // The last line without "\n" at end of stream is answered as it came.
        let last = withLine("tail") { echo.inputEnded(0, lastLine: $0, into: &scratch.writer) }
        guard case .send(let range, .one(0))? = last.first else {
            Issue.record("no reply to the last line: \(Array(last))")
            return
        }
        #expect(scratch.text(range) == "2: tail")
        #expect(echo.inputEnded(0, lastLine: nil, into: &scratch.writer).isEmpty)
    }

    @Test func aLineTooLongGetsTheErrorLineThenACloseAfterIt() {
        var echo = EchoLinesService(numbering: false, maxLine: 10, capacity: 1)
        let scratch = ScratchWriter(capacity: 4096)
        let actions = echo.lineTooLong(from: 0, into: &scratch.writer)
        guard actions.count == 2, case .send(let range, .one(0)) = actions[0] else {
            Issue.record("unexpected \(Array(actions))")
            return
        }
        #expect(scratch.text(range) == "error: line longer than 10 bytes\n")
        #expect(actions[1] == .closeAfterOutput(slot: 0))
    }

    @Test func broadcastTicksToEveryoneOnlyWhenThisWorkerHasClients() throws {
        var broadcast = Broadcast(message: try MessageTemplate(parsing: "seq={seq} clients={clients}\n"), interval: .milliseconds(250))
        #expect(broadcast.tickInterval == .milliseconds(250))
        let scratch = ScratchWriter(capacity: 4096)
        let time = UnixTime(nanosecondsSinceEpoch: 0)
        #expect(broadcast.tick(context: ServiceContext(time: time, clients: 5, connections: 0), into: &scratch.writer).isEmpty)
        let actions = broadcast.tick(context: ServiceContext(time: time, clients: 5, connections: 2), into: &scratch.writer)
        guard case .send(let range, .everyone)? = actions.first else {
            Issue.record("unexpected \(Array(actions))")
            return
        }
        // The idle tick still counted: clients see seq 2, and every worker's clients in {clients}.
        #expect(scratch.text(range) == "seq=2 clients=5\n")
    }
}
