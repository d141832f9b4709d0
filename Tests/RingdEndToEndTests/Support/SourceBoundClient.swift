// A client connecting from a chosen local address, such as 127.0.0.2, that only connects and
// reads until ringd ends the connection, which is all a refused client gets to do.
import TestSupport

enum SourceBoundClient {
    /// Connects from `source` (an IPv4 address, any port) to `endpoint`, sends nothing, and
    /// reads until ringd ends the connection. Returns what was received and how it ended; fails
    /// if the connection is still open after `timeout`.
    static func connectAndReadToEnd(
        from source: String, to endpoint: Endpoint, timeout: Duration = .seconds(10)
    ) throws -> (bytes: [UInt8], end: ConnectionEnd) {
        let connection = LineConnection(socket: try TestSocket(connectingTo: endpoint, from: source))
        return try connection.readToEnd(within: timeout)
    }
}
