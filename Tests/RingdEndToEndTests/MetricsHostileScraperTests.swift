// Scrapers that misbehave cannot delay serving, nor keep a prompt scraper out: while 40
// connections dribble half a request (slowloris), one sends a 1 MiB request line and another
// thread makes 10,000 requests in a row, an echo conversation gets every line back, a prompt
// scrape is answered, and every one of the 10,000 requests gets its 200.
import Foundation
import Glibc
import TestSupport
import Testing

@Suite("Metrics endpoint under hostile scrapers")
struct MetricsHostileScraperTests {
    @Test("slowloris, a 1 MiB request line and 10,000 requests in a row: echo and scrapes keep being served")
    func hostileScrapersCannotDelayServing() throws {
        let ringd = try RunningRingd(extraArguments: ["--workers", "2", "--set", "metrics.listen=127.0.0.1:0"])
        defer { ringd.stop() }
        let metrics = try ringd.requireMetricsEndpoint()
        let echo = try LineConnection(connectingTo: ringd.endpoint)
        var echoed = 0
        func converse(_ count: Int) throws {
            for _ in 0..<count {
                let line = "line \(echoed) of the conversation\n"
                try echo.send(line)
                #expect(try echo.readLineText() == line)
                echoed += 1
            }
        }

        // Slowloris: more connections than the endpoint has slots, each with half a request.
        var slow: [TestSocket] = []
        for _ in 0..<40 {
            let socket = try TestSocket(connectingTo: metrics)
            try socket.sendAll(Array("GET /metr".utf8))
            slow.append(socket)
        }
        try converse(50)
        #expect(try HTTPReply.get(from: metrics).statusLine == "HTTP/1.1 200 OK", "a prompt scrape among 40 slow ones")

        // A 1 MiB request line: refused after 8 KiB with 431; the rest is read and dropped.
        let huge = try TestSocket(connectingTo: metrics)
        try huge.sendAll(Array("GET /".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20))
        let hugeReply = try HTTPReply(String(decoding: huge.receiveUntilEndOfStream(), as: UTF8.self))
        #expect(hugeReply.statusLine == "HTTP/1.1 431 Request Header Fields Too Large")
        try converse(50)

        // 10,000 requests in a row on another thread, while the conversation goes on.
        let storm = BackgroundWork { () -> Int in
            var answered = 0
            for _ in 0..<10_000 where try HTTPReply.get(from: metrics).statusLine == "HTTP/1.1 200 OK" { answered += 1 }
            return answered
        }
        while !storm.isFinished { try converse(20) }
        #expect(try storm.join(timeout: .seconds(300)) == 10_000)
        try converse(50)

        slow.forEach { $0.close() }
        let sample = try MetricsSample.scrape(metrics) { $0.total("ringd_bytes_received_total") > 0 }
        #expect(sample.total("ringd_connections_accepted_total") == 1, "only the echo client is ringd's:\n\(sample.text)")
        let counters = try ringd.child.terminateAndReadCounters()
        #expect(counters.total("accepted") == 1 && counters.total("closed") == 1, "\(counters.lines)")
    }
}
