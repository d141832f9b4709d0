// Greet: one message on accept, then a graceful close.

import RingdServices
import Testing

@Suite struct GreetTests {
    let now = UnixTime(seconds: 1_732_212_345, nanoseconds: 500_000_000)

    @Test func sendsTheDefaultGreetingNamingThePeerThenCloses() {
        var action: AcceptAction?
        let text = rendered { action = Greet().accepted(peer: loopbackPeer, time: now, into: &$0) }
        #expect(text == "Hello from ringd, 127.0.0.1 35577\n")
        #expect(action == .sendThenClose)
    }

    @Test func sendsAConfiguredTemplate() throws {
        let greet = Greet(message: try MessageTemplate(parsing: "hi {peer} at {time}, {clients} here\n"))
        let text = rendered { _ = greet.accepted(peer: loopbackPeer, time: now, clients: 2, into: &$0) }
        #expect(text == "hi 127.0.0.1 35577 at 1732212345.500000, 2 here\n")
    }

    @Test func closesWithoutSendingWhenTheGreetingDoesNotFit() throws {
        var action: AcceptAction?
        let text = rendered(capacity: 5) { action = Greet().accepted(peer: loopbackPeer, time: now, into: &$0) }
        #expect(text == "")
        #expect(action == .close)
    }
}
