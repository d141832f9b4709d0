// Greet: one message on accept, then the engine closes.

import RingdServices
import Testing

@Suite struct GreetServiceTests {
    let now = UnixTime(seconds: 1_732_212_345, nanoseconds: 500_000_000)

    @Test func sendsTheDefaultGreetingNamingThePeer() {
        var greet = GreetService()
        var fits = false
        let text = rendered { fits = greet.greeting(peer: loopbackPeer, context: context(clients: 1), into: &$0) }
        #expect(text == "Hello from ringd, 127.0.0.1 35577\n")
        #expect(fits)
        #expect(greet.needsPeer)
        #expect(greet.fixedGreeting == nil)
    }

    @Test func sendsAConfiguredTemplate() throws {
        var greet = GreetService(message: try MessageTemplate(parsing: "hi {peer} at {time}, {clients} here\n"))
        let text = rendered { _ = greet.greeting(peer: loopbackPeer, context: context(clients: 2), into: &$0) }
        #expect(text == "hi 127.0.0.1 35577 at 1732212345.500000, 2 here\n")
    }

    @Test func closesWithoutSendingWhenTheGreetingDoesNotFit() throws {
        var greet = GreetService()
        var fits = true
        let text = rendered(capacity: 5) { fits = greet.greeting(peer: loopbackPeer, context: context(clients: 1), into: &$0) }
        #expect(text == "")
        #expect(!fits)
    }

    @Test func aMessageWithoutPlaceholdersIsRenderedOnceAndSurvivesAReload() throws {
        var greet = GreetService(message: try MessageTemplate(parsing: "hello\n"))
        let first = try #require(greet.fixedGreeting)
        #expect(String(decoding: first, as: UTF8.self) == "hello\n")
        #expect(!greet.needsPeer)
        greet.reconfigure(from: GreetService(message: try MessageTemplate(parsing: "bye\n")))
        #expect(String(decoding: try #require(greet.fixedGreeting), as: UTF8.self) == "bye\n")
        // A send still in flight reads the old bytes: they stay until the service goes.
        #expect(String(decoding: first, as: UTF8.self) == "hello\n")
    }

    func context(clients: Int) -> ServiceContext { ServiceContext(time: now, clients: clients, connections: 0) }
}

@Suite struct CounterServiceTests {
    let context = ServiceContext(time: UnixTime(nanosecondsSinceEpoch: 0), clients: 1, connections: 0)

    @Test func reportsConnectionsBeforeThisOne() {
        var counter = CounterService()
        var replies: [String] = []
        for _ in 0..<3 {
            var fits = false
            replies.append(rendered { fits = counter.greeting(peer: loopbackPeer, context: context, into: &$0) })
            #expect(fits)
        }
        #expect(replies == ["0 connections before you\n", "1 connections before you\n", "2 connections before you\n"])
    }

    @Test func countersSharingNumbersNeverHandOutOneTwice() {
        let shared = LocalConnectionNumbers()
        var first = CounterService(message: CounterService<LocalConnectionNumbers>().message, numbers: shared)
        var second = CounterService(message: first.message, numbers: shared)
        let replies = (0..<4).map { index in
            rendered { _ = index % 2 == 0 ? first.greeting(peer: loopbackPeer, context: context, into: &$0) : second.greeting(peer: loopbackPeer, context: context, into: &$0) }
        }
        #expect(replies == (0..<4).map { "\($0) connections before you\n" })
    }

    @Test func rendersLargeCountsAndCustomTemplates() throws {
        final class FarAlong: ConnectionNumbers {
            func next() -> UInt64 { 12_345_678_901 }
        }
        var counter = CounterService(message: try MessageTemplate(parsing: "you are visitor #{count} ({peer})\n"), numbers: FarAlong())
        let text = rendered { _ = counter.greeting(peer: loopbackPeer, context: context, into: &$0) }
        #expect(text == "you are visitor #12345678901 (127.0.0.1 35577)\n")
    }

    @Test func closesWithoutSendingWhenTheCountDoesNotFit() {
        var counter = CounterService()
        var fits = true
        let text = rendered(capacity: 8) { fits = counter.greeting(peer: loopbackPeer, context: context, into: &$0) }
        #expect(text == "")
        #expect(!fits)
    }
}
