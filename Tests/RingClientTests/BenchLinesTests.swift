// `ring-client bench broadcast` and `bench relay` end to end, against line servers written in
// the test (ringd's broadcast and relay modes are not available to the tests yet).
import Foundation
import TestSupport
import Testing

@Suite("bench broadcast and relay")
struct BenchLinesTests {
    @Test("broadcast: lines counted, none lost, every subscriber served, latency from time=")
    func broadcastClean() throws {
        let server = try TestServers.broadcast()
        let run = try runClient(["bench", "broadcast", "127.0.0.1", String(server.port), "-c", "5", "-t", "2",
                                 "-d", "500ms", "--json", "--quiet"])
        #expect(run.status == .exited(0), "\(run)")
        let summary = try run.json()
        #expect((summary["lines"] as? Int ?? 0) > 0, "\(run)")
        #expect(summary["lost"] as? Int == 0, "\(run)")
        #expect(((summary["lines_per_subscriber"] as? [String: Any])?["min"] as? Int ?? 0) > 0, "\(run)")
        #expect(((summary["latency_us"] as? [String: Any])?["count"] as? Int ?? 0) > 0, "\(run)")
    }

    @Test("broadcast: a skipped seq is a lost line and fails the run")
    func broadcastGap() throws {
        let server = try TestServers.broadcast(skipping: 10)
        let run = try runClient(["bench", "broadcast", "127.0.0.1", String(server.port), "-c", "2",
                                 "-d", "2s", "--quiet"])
        #expect(run.status == .exited(2), "\(run)")
        #expect(run.standardError.contains("seq jumped from 9 to 11"), "\(run)")
    }

    @Test("broadcast: with --allow-gaps a skipped seq is counted but not an error")
    func broadcastGapAllowed() throws {
        let server = try TestServers.broadcast(skipping: 10)
        let run = try runClient(["bench", "broadcast", "127.0.0.1", String(server.port), "-c", "2",
                                 "-d", "2s", "--allow-gaps", "--json", "--quiet"])
        #expect(run.status == .exited(0), "\(run)")
        #expect(try run.json()["lost"] as? Int == 2, "\(run)")
    }

    @Test("relay: every line reaches every other client")
    func relayDeliversEverything() throws {
        let server = try TestServers.relay()
        let run = try runClient(["bench", "relay", "127.0.0.1", String(server.port), "-c", "4", "-t", "2",
                                 "--rate", "400", "-d", "500ms", "--drain", "3s", "--json", "--quiet"])
        #expect(run.status == .exited(0), "\(run)")
        let summary = try run.json()
        let sent = summary["lines_sent"] as? Int ?? 0
        #expect(sent > 0, "\(run)")
        #expect(summary["deliveries_expected"] as? Int == sent * 3, "\(run)")
        #expect(summary["lost"] as? Int == 0, "\(run)")
    }
}
