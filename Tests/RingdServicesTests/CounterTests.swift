// Counter: how many connections came before this one, from the caller's shared count.

import RingdServices
import Testing

@Suite struct CounterTests {
    let now = UnixTime(nanosecondsSinceEpoch: 0)

    @Test func reportsConnectionsBeforeThisOne() {
        // The server's atomic fetch-add returns the value before the increment: 0, 1, 2, ...
        var shared: UInt64 = 0
        var replies: [String] = []
        for _ in 0..<3 {
            let before = shared
            shared += 1
            var action: AcceptAction?
            replies.append(rendered { action = Counter().accepted(connectionsBefore: before, peer: loopbackPeer, time: now, into: &$0) })
            #expect(action == .sendThenClose)
        }
        #expect(replies == ["0 connections before you\n", "1 connections before you\n", "2 connections before you\n"])
    }

    @Test func rendersLargeCountsAndCustomTemplates() throws {
        let counter = Counter(message: try MessageTemplate(parsing: "you are visitor #{count} ({peer})\n"))
        let text = rendered { _ = counter.accepted(connectionsBefore: 12_345_678_901, peer: loopbackPeer, time: now, into: &$0) }
        #expect(text == "you are visitor #12345678901 (127.0.0.1 35577)\n")
    }

    @Test func closesWithoutSendingWhenTheCountDoesNotFit() {
        var action: AcceptAction?
        let text = rendered(capacity: 8) { action = Counter().accepted(connectionsBefore: 7, peer: loopbackPeer, time: now, into: &$0) }
        #expect(text == "")
        #expect(action == .close)
    }
}
