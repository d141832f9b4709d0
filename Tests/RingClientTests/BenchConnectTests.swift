// `ring-client bench connect` end to end against counter servers written in the test.
import Foundation
import TestSupport
import Testing

@Suite("bench connect")
struct BenchConnectTests {
    @Test("against a counter: exact count, values rise in every loop, no duplicates")
    func counterValuesIncrease() throws {
        let server = try TestServers.counter()
        let run = try runClient(["bench", "connect", "127.0.0.1", String(server.port), "-c", "4", "-t", "2",
                                 "--count", "300", "--check-increasing", "--json", "--quiet"])
        #expect(run.status == .exited(0), "\(run)")
        let summary = try run.json()
        #expect(summary["connections"] as? Int == 300, "\(run)")
        let counter = summary["counter"] as? [String: Any]
        #expect(counter?["values"] as? Int == 300, "\(run)")
        #expect(counter?["duplicates"] as? Int == 0, "\(run)")
        #expect(counter?["min"] as? Int == 1, "\(run)")
        #expect(counter?["max"] as? Int == 300, "\(run)")
    }

    @Test("after a warm-up, a fixed count is still exactly that count")
    func fixedCountAfterWarmup() throws {
        // Connections started in the batch in which a worker first sees the window open used to
        // be started as warm-up but finish as measured, so the count overshot.
        let server = try TestServers.counter()
        for _ in 0..<3 {
            let run = try runClient(["bench", "connect", "127.0.0.1", String(server.port), "-c", "20", "-t", "2",
                                     "--count", "400", "-W", "100ms", "--json", "--quiet"])
            #expect(run.status == .exited(0), "\(run)")
            let summary = try run.json()
            #expect(summary["connections"] as? Int == 400, "\(run)")
        }
    }

    @Test("a counter that hands out a value twice fails the run")
    func duplicateValueIsAnError() throws {
        let server = try TestServers.counter(repeating: 20)
        let run = try runClient(["bench", "connect", "127.0.0.1", String(server.port), "-c", "2",
                                 "--count", "60", "--check-increasing", "--quiet"])
        #expect(run.status == .exited(2), "\(run)")
        #expect(run.standardError.contains("more than once (first: 20)"), "\(run)")
    }

    @Test("a server that never answers nor closes ends the run with a stall, not a hang")
    func silentServerIsAStall() throws {
        let server = try TestServer { socket, _ in drainUntilClosed(socket) }
        let run = try runClient(["bench", "connect", "127.0.0.1", String(server.port), "-c", "2",
                                 "--count", "1000", "--timeout", "300ms", "--quiet"])
        #expect(run.status == .exited(2), "\(run)")
        #expect(run.standardError.contains("the server neither sent nor closed"), "\(run)")
    }

    @Test("a server that closes without a reply is an empty-reply error")
    func emptyReplyIsAnError() throws {
        let server = try TestServer { _, _ in }
        let run = try runClient(["bench", "connect", "127.0.0.1", String(server.port), "-c", "1", "--count", "5", "--quiet"])
        #expect(run.status == .exited(2), "\(run)")
        #expect(run.standardError.contains("without sending anything"), "\(run)")
    }
}
