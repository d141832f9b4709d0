// The metrics endpoint's request reader as plain code: which bytes are a complete request, which
// path and method it asks for, where the head limit cuts, and the response each one gets.

import Testing

@testable import RingdMetrics

@Suite struct ScrapeRequestTests {
    @Test(
        "requests and what they ask for",
        arguments: [
            ("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", ScrapeRequest.metrics(includeBody: true)),
            ("GET /metrics?name[]=x HTTP/1.0\r\n\r\n", .metrics(includeBody: true)),
            ("HEAD /metrics HTTP/1.1\r\n\r\n", .metrics(includeBody: false)),
            ("GET /metrics HTTP/1.1\n\n", .metrics(includeBody: true)),
            ("GET / HTTP/1.1\r\n\r\n", .notFound),
            ("GET /metricsx HTTP/1.1\r\n\r\n", .notFound),
            ("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", .methodNotAllowed),
            ("GET /metrics\r\n\r\n", .malformed),
            ("GET  /metrics HTTP/1.1\r\n\r\n", .malformed),
            ("GET /metrics SPDY/3\r\n\r\n", .malformed),
            ("\r\n\r\n", .malformed),
            ("GET /metrics HTTP/1.1\r\nHost: x\r\n", .incomplete),
            ("GET /metr", .incomplete),
            ("", .incomplete),
        ])
    func classifies(text: String, expected: ScrapeRequest) {
        #expect(ScrapeRequest(Array(text.utf8)) == expected)
    }

    @Test("a head with no end within 8 KiB is too large, however long the line goes on")
    func headLimit() {
        let line = Array("GET /".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
        #expect(ScrapeRequest(line) == .tooLarge)
        #expect(ScrapeRequest(line.prefix(ScrapeRequest.headLimit - 1)) == .incomplete)
        #expect(ScrapeRequest(line.prefix(ScrapeRequest.headLimit)) == .tooLarge)
    }

    @Test("responses: status line, Content-Length matching the body, Connection: close")
    func responses() throws {
        let body = Array("ringd_workers 2\n".utf8)
        let metrics = String(decoding: ScrapeRequest.metrics(includeBody: true).response { body }, as: UTF8.self)
        #expect(metrics.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(metrics.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        #expect(metrics.contains("Content-Length: \(body.count)\r\n"))
        #expect(metrics.contains("Connection: close\r\n"))
        #expect(metrics.hasSuffix("\r\n\r\nringd_workers 2\n"))

        let head = String(decoding: ScrapeRequest.metrics(includeBody: false).response { body }, as: UTF8.self)
        #expect(head.hasSuffix("Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"))

        var rendered = false
        let notFound = String(
            decoding: ScrapeRequest.notFound.response {
                rendered = true
                return body
            }, as: UTF8.self)
        #expect(notFound.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(!rendered, "a 404 renders no metrics")
        #expect(String(decoding: ScrapeRequest.tooLarge.response { body }, as: UTF8.self).hasPrefix("HTTP/1.1 431 "))
        #expect(
            String(decoding: ScrapeRequest.methodNotAllowed.response { body }, as: UTF8.self).contains("Allow: GET, HEAD\r\n"))
    }
}
