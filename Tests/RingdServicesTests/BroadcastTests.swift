// Broadcast: seq counts ticks, each tick renders its message once into the shared buffer, a
// greeting on connect, and input is dropped.

import RingdServices
import Testing

@Suite struct BroadcastTests {
    func time(_ seconds: Int64) -> UnixTime { UnixTime(seconds: seconds, nanoseconds: 250_000) }

    @Test func seqIncrementsByOnePerTickFromOne() {
        var broadcast = Broadcast()
        let shared = ScratchWriter(capacity: broadcast.message.maximumRenderedCount)
        var messages: [String] = []
        for second in 0..<3 as Range<Int64> {
            shared.writer.reset()
            let action = broadcast.tick(time: time(1_732_212_345 + second), clients: 2, into: &shared.writer)
            #expect(action == .sendToAll(seq: UInt64(second + 1)))
            messages.append(shared.text(0..<shared.writer.count))
        }
        #expect(messages == [
            "seq=1 time=1732212345.000250 clients=2\n",
            "seq=2 time=1732212346.000250 clients=2\n",
            "seq=3 time=1732212347.000250 clients=2\n",
        ])
        #expect(broadcast.seq == 3)
    }

    @Test func aTickRendersOneMessageForAnyNumberOfClients() {
        var broadcast = Broadcast()
        let shared = ScratchWriter(capacity: 4096)
        let action = broadcast.tick(time: time(1), clients: 10_000, into: &shared.writer)
        #expect(action == .sendToAll(seq: 1))
        // One rendering, not one per client: the buffer holds exactly one line.
        #expect(shared.text(0..<shared.writer.count) == "seq=1 time=1.000250 clients=10000\n")
    }

    @Test func aTickWithNoClientsRendersNothingButStillCounts() {
        var broadcast = Broadcast()
        let shared = ScratchWriter(capacity: 4096)
        #expect(broadcast.tick(time: time(1), clients: 0, into: &shared.writer) == .idle(seq: 1))
        #expect(shared.writer.count == 0)
        #expect(broadcast.tick(time: time(2), clients: 1, into: &shared.writer) == .sendToAll(seq: 2))
    }

    @Test func aMessageTooLargeForTheBufferSkipsTheTick() {
        var broadcast = Broadcast()
        let small = ScratchWriter(capacity: 10)
        #expect(broadcast.tick(time: time(1), clients: 1, into: &small.writer) == .skipped(seq: 1))
        #expect(small.writer.count == 0)
    }

    @Test func greetsANewClientOnlyWhenConfigured() throws {
        var action: AcceptAction?
        let none = rendered { action = Broadcast().accepted(peer: loopbackPeer, time: time(1), clients: 1, into: &$0) }
        #expect(none == "")
        #expect(action == .keep)

        let greeting = try MessageTemplate(parsing: "welcome {peer}, {clients} listening\n")
        let broadcast = Broadcast(message: try MessageTemplate(parsing: Broadcast.defaultMessage), greeting: greeting)
        let text = rendered { action = broadcast.accepted(peer: loopbackPeer, time: time(1), clients: 4, into: &$0) }
        #expect(text == "welcome 127.0.0.1 35577, 4 listening\n")
        #expect(action == .send)
    }

    @Test func inputFromClientsIsCountedAndDropped() {
        var broadcast = Broadcast()
        broadcast.received(byteCount: 100)
        broadcast.received(byteCount: 23)
        #expect(broadcast.droppedInputBytes == 123)
        #expect(broadcast.seq == 0)
    }

    @Test func theDefaultMessageCarriesTheFieldsTheBenchmarkParses() throws {
        let template = try MessageTemplate(parsing: Broadcast.defaultMessage)
        #expect(template.placeholders.isSuperset(of: [.seq, .time]))
        #expect(Broadcast.defaultMessage.hasPrefix("seq={seq} time={time}"))
    }
}
