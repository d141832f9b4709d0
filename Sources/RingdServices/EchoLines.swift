// EchoLines: line-mode echo, as the Perl echo server of Comer's client-server chapter does it.
//
//     while (<$client>) {
//         print "[$name $port] $_";      # the access log:  [127.0.0.1 35577] Here we go...
//         print $client "$.: $_";        # the reply:       1: Here we go...
//     }
//
// `$_` is the line with its terminator as received, so the reply keeps CRLF when the client sent
// CRLF, and a last line without "\n" at end of stream is echoed without one. `$.` counts lines
// per connection from 1; numbering is optional (`echo.line_numbers`), and without it the reply
// is the line itself.
//
// Without numbering the reply is exactly `line.bytes`. The server still copies it through
// `reply` into its output memory, because the receive buffer the line points into is recycled
// as soon as the read has been framed.
//
// The access log line is `[HOST PORT] ` and the line's content, always ending in exactly one
// "\n" (a CR is dropped, so a log file stays one entry per line). The engine writes it, to
// standard output. Lines come from the engine's LineFramer; the state per connection is one
// counter. `EchoLinesService` is the mode: an EchoLines per connection slot.

/// Echo of whole lines, numbered or not: the service of `echo.lines = true`.
public struct EchoLinesService: Service {
    public static var input: ServiceInput { .lines }

    public let numbering: Bool
    public let maximumLineLength: Int
    private let connections: SlotTable<EchoLines>

    /// For connection slots 0..<capacity.
    public init(numbering: Bool, maxLine: Int, capacity: Int) {
        self.numbering = numbering
        maximumLineLength = maxLine
        connections = SlotTable(capacity: capacity)
    }

    public var maximumOutputCount: Int { EchoLines.maximumReplyCount(maxLine: maximumLineLength) }

    public mutating func opened(_ slot: Int, peer: Peer, context: ServiceContext, into writer: inout ByteWriter) -> ServiceActions
    {
        connections[slot] = EchoLines(numbering: numbering)
        return ServiceActions()
    }

    public mutating func received(_ line: Line, from slot: Int, into writer: inout ByteWriter) -> ServiceActions {
        let start = writer.count
        guard connections.update(slot, { $0.reply(to: line, into: &writer) }) else { return ServiceActions() }
        return ServiceActions(.send(bytes: start..<writer.count, to: .one(slot: slot)))
    }

    /// A last line without "\n" is answered too, as the Perl server does; the connection closes
    /// once the replies are out.
    public mutating func inputEnded(_ slot: Int, lastLine: Line?, into writer: inout ByteWriter) -> ServiceActions {
        guard let lastLine else { return ServiceActions() }
        return received(lastLine, from: slot, into: &writer)
    }

    /// Numbering and the line limit need new per-slot state, so only a restart changes them.
    public mutating func reconfigure(from fresh: consuming EchoLinesService) {}
}

/// One connection's line-mode echo state.
public struct EchoLines: Sendable, BitwiseCopyable {
    /// Prefix replies with `N: ` like the Perl server's `$.`.
    public let numbering: Bool
    /// Lines replied to so far; the next reply is numbered `linesAnswered + 1`.
    public private(set) var linesAnswered: UInt64 = 0

    public init(numbering: Bool) {
        self.numbering = numbering
    }

    /// The most bytes `reply` writes for a line of at most `maxLine` bytes (plus CRLF).
    public static func maximumReplyCount(maxLine: Int) -> Int {
        20 + 2 + maxLine + 2
    }

    /// Writes the reply to `line`: `N: ` (when numbering) and the line as received. Returns false,
    /// having written nothing, when it did not fit; the line is then not counted, so the caller
    /// can send what it has and retry.
    @discardableResult
    public mutating func reply(to line: Line, into writer: inout ByteWriter) -> Bool {
        let start = writer.count
        let number = linesAnswered + 1
        if numbering {
            writer.write(decimal: number)
            writer.write(": ")
        }
        writer.write(line.bytes)
        guard writer.commit(since: start) else { return false }
        linesAnswered = number
        return true
    }

    /// Writes `[HOST PORT] content\n`.
    @discardableResult
    public static func writeAccessLog(peer: Peer, line: Line, into writer: inout ByteWriter) -> Bool {
        let start = writer.count
        writer.write(UInt8(ascii: "["))
        peer.write(to: &writer)
        writer.write("] ")
        writer.write(line.content)
        writer.write(UInt8(ascii: "\n"))
        return writer.commit(since: start)
    }
}

/// Error lines a line-mode service sends before it closes a connection.
public enum ServiceErrorLine {
    /// `error: line longer than N bytes\n`, the reply to LineFramer's `.lineTooLong`.
    @discardableResult
    public static func writeLineTooLong(maxLine: Int, into writer: inout ByteWriter) -> Bool {
        let start = writer.count
        writer.write("error: line longer than ")
        writer.write(decimal: UInt64(maxLine))
        writer.write(" bytes\n")
        return writer.commit(since: start)
    }
}
