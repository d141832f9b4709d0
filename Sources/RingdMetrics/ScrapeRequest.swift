// ScrapeRequest: the one HTTP request the metrics endpoint understands, read from the bytes a
// scraper sent so far, and the response each kind of request gets. Plain code, no I/O.
//
// Why an HTTP reader by hand rather than a server library: the endpoint answers one request
// line, `GET /metrics`, and must stay bounded whatever a scraper sends. The HTTP servers in the
// package mirror (Hummingbird, Vapor, FlyingFox) run on SwiftNIO or on Swift concurrency's
// executors: a second event-loop model and thread pool beside ringd's one io_uring loop per core,
// with their own limits to learn and configure, for a request line. This reader is a head of at
// most `ScrapeRequest.headLimit` bytes, one request per connection, and no body.

/// What the bytes received so far on a metrics connection ask for.
enum ScrapeRequest: Equatable {
    /// The head (request line and headers, up to the blank line) has not all arrived.
    case incomplete
    /// `GET /metrics` (or `HEAD`, which gets the same headers and no body), with any query.
    case metrics(includeBody: Bool)
    /// A well-formed request for any other path.
    case notFound
    /// A method other than GET and HEAD.
    case methodNotAllowed
    /// Not an HTTP/1.x request line.
    case malformed
    /// No end of head within `headLimit` bytes: a 1 MiB request line ends here, after 8 KiB.
    case tooLarge

    /// The longest request head read; Prometheus sends a few hundred bytes.
    static let headLimit = 8192

    /// Classifies `bytes`, everything a scraper has sent so far.
    init(_ bytes: some Collection<UInt8>) {
        let bytes = Array(bytes.prefix(Self.headLimit))
        guard let headEnd = Self.endOfHead(bytes) else {
            self = bytes.count >= Self.headLimit ? .tooLarge : .incomplete
            return
        }
        let lineEnd = bytes[..<headEnd].firstIndex(of: UInt8(ascii: "\n")) ?? headEnd
        var line = bytes[..<lineEnd]
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].starts(with: "HTTP/1.".utf8), !parts[0].isEmpty, parts[1].first == UInt8(ascii: "/")
        else {
            self = .malformed
            return
        }
        let method = String(decoding: parts[0], as: UTF8.self)
        let path = parts[1].prefix { $0 != UInt8(ascii: "?") }
        guard method == "GET" || method == "HEAD" else {
            self = .methodNotAllowed
            return
        }
        self = path.elementsEqual("/metrics".utf8) ? .metrics(includeBody: method == "GET") : .notFound
    }

    /// The index just past the blank line that ends the head ("\r\n\r\n", or "\n\n" from a
    /// lenient client), or nil.
    private static func endOfHead(_ bytes: [UInt8]) -> Int? {
        var index = 0
        while let newline = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) {
            var next = newline + 1
            if next < bytes.count, bytes[next] == UInt8(ascii: "\r") { next += 1 }
            if next < bytes.count, bytes[next] == UInt8(ascii: "\n") { return next + 1 }
            index = newline + 1
        }
        return nil
    }

    /// The complete response, given the metrics text when this is a metrics request. Every
    /// response closes the connection: one request per connection keeps the endpoint bounded.
    func response(metrics: () -> [UInt8]) -> [UInt8] {
        switch self {
        case .metrics(let includeBody):
            let body = metrics()
            var response = Self.head(
                "200 OK", contentType: "text/plain; version=0.0.4; charset=utf-8", length: body.count)
            if includeBody { response += body }
            return response
        case .notFound: return Self.plain("404 Not Found", "ringd serves GET /metrics only\n")
        case .methodNotAllowed: return Self.plain("405 Method Not Allowed", "ringd serves GET /metrics only\n", allow: true)
        case .malformed, .incomplete: return Self.plain("400 Bad Request", "not an HTTP/1.x request\n")
        case .tooLarge:
            return Self.plain("431 Request Header Fields Too Large", "the request head is over \(Self.headLimit) bytes\n")
        }
    }

    private static func plain(_ status: String, _ body: String, allow: Bool = false) -> [UInt8] {
        head(status, contentType: "text/plain; charset=utf-8", length: body.utf8.count, allow: allow) + Array(body.utf8)
    }

    private static func head(_ status: String, contentType: String, length: Int, allow: Bool = false) -> [UInt8] {
        let allowHeader = allow ? "Allow: GET, HEAD\r\n" : ""
        return Array(
            "HTTP/1.1 \(status)\r\nContent-Type: \(contentType)\r\nContent-Length: \(length)\r\n\(allowHeader)Connection: close\r\n\r\n"
                .utf8)
    }
}
