// MessageTemplate: the text a service sends (a greeting, a counter line, a broadcast tick), with
// placeholders filled in at send time.
//
//     {count}    UInt64   connections accepted before this one (counter mode)
//     {seq}      UInt64   the broadcast tick's sequence number, 1 for the first tick
//     {time}     UnixTime seconds since the epoch with microseconds: 1732212345.123456
//     {clients}  Int      clients connected: across all workers for broadcast and relay; for greet
//                         and counter, the connections this worker is greeting, this one included
//     {peer}     Peer     the client as "HOST PORT", or "unix" on a Unix socket (empty when there
//                         is no single client, as in a broadcast tick)
//     {{  }}              a literal "{" or "}"
//
// A template is parsed once, when the configuration is read: parsing allocates, and an unknown
// placeholder is an error that names it and its 1-based column in the template, counted in
// Unicode scalars like the configuration's own columns, so the config layer can report
// FILE:LINE:COL. Rendering walks the parsed segments and writes through a ByteWriter into the
// caller's memory; it allocates nothing. A writer with `maximumRenderedCount` free bytes never
// overflows.

/// A parsed message template; see the file comment for the placeholders.
public struct MessageTemplate: Sendable, Equatable, CustomStringConvertible {
    public enum Placeholder: String, Sendable, CaseIterable, Hashable {
        case count, seq, time, clients, peer

        /// The most bytes one rendering of this placeholder can take.
        var maximumRenderedCount: Int {
            switch self {
            case .count, .seq: 20  // UInt64.max has 20 digits
            case .time: 1 + 10 + 1 + 6  // Int64 nanoseconds: at most 10 digits of seconds
            case .clients: 20  // Int.min: "-" and 19 digits
            case .peer: Peer.maximumTextCount
            }
        }
    }

    /// What a rendering fills the placeholders with. Fields a template does not use are ignored.
    public struct Values: Sendable {
        public var count: UInt64
        public var seq: UInt64
        public var time: UnixTime
        public var clients: Int
        public var peer: Peer?

        public init(
            count: UInt64 = 0, seq: UInt64 = 0, time: UnixTime = UnixTime(nanosecondsSinceEpoch: 0), clients: Int = 0,
            peer: Peer? = nil
        ) {
            self.count = count
            self.seq = seq
            self.time = time
            self.clients = clients
            self.peer = peer
        }
    }

    /// A template that cannot be parsed, and where.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Kind: Sendable, Equatable {
            /// `{name}` with a name that is not one of the placeholders.
            case unknownPlaceholder(String)
            /// A `{` with no `}` after it.
            case unclosedPlaceholder
            /// A `}` that closes nothing; a literal brace is written `}}`.
            case unmatchedClosingBrace
            /// A placeholder the message's use cannot fill (not among `allowing`).
            case notFilledHere(Placeholder)
        }

        public var kind: Kind
        /// 1-based column of the offending `{` or `}` in the template, counted in Unicode scalars.
        public var column: Int

        public init(kind: Kind, column: Int) {
            self.kind = kind
            self.column = column
        }

        /// What is wrong, without the position: for the config layer, which adds FILE:LINE:COL.
        public var message: String {
            let known = Placeholder.allCases.map { "{\($0.rawValue)}" }.joined(separator: ", ")
            switch kind {
            case .unknownPlaceholder(let name):
                return "unknown placeholder {\(name)}; expected one of \(known)"
            case .unclosedPlaceholder:
                return "\"{\" opens a placeholder that is never closed; write \"{{\" for a literal brace"
            case .unmatchedClosingBrace:
                return "\"}\" closes no placeholder; write \"}}\" for a literal brace"
            case .notFilledHere(let placeholder):
                return "{\(placeholder.rawValue)} is not filled in this message"
            }
        }

        public var description: String { "column \(column): \(message)" }
    }

    private enum Segment: Sendable, Equatable {
        /// Bytes `range` of `literalBytes`.
        case literal(Range<Int>)
        case placeholder(Placeholder)
    }

    /// The template as written.
    public let text: String
    /// The placeholders the template uses, so the config layer can reject one a mode cannot fill.
    public let placeholders: Set<Placeholder>
    /// An upper bound on the bytes one rendering writes.
    public let maximumRenderedCount: Int
    private let segments: [Segment]
    private let literalBytes: [UInt8]

    /// Parses `text`; a placeholder not in `allowed` is an error at its brace, for a message
    /// whose use cannot fill it (`{seq}` in a greeting, for instance).
    public init(parsing text: String, allowing allowed: Set<Placeholder> = Set(Placeholder.allCases)) throws(ParseError) {
        var segments: [Segment] = []
        var literal: [UInt8] = []
        var literalStart = 0
        var placeholders: Set<Placeholder> = []
        func endLiteral() {
            if literal.count > literalStart { segments.append(.literal(literalStart..<literal.count)) }
            literalStart = literal.count
        }
        let scalars = Array(text.unicodeScalars)
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            let next = index + 1 < scalars.count ? scalars[index + 1] : nil
            switch scalar {
            case "{" where next == "{", "}" where next == "}":
                literal.append(UInt8(ascii: scalar))
                index += 2
            case "{":
                guard let close = scalars[(index + 1)...].firstIndex(of: "}") else {
                    throw ParseError(kind: .unclosedPlaceholder, column: index + 1)
                }
                var name = String.UnicodeScalarView()
                name.append(contentsOf: scalars[(index + 1)..<close])
                guard let placeholder = Placeholder(rawValue: String(name)) else {
                    throw ParseError(kind: .unknownPlaceholder(String(name)), column: index + 1)
                }
                guard allowed.contains(placeholder) else {
                    throw ParseError(kind: .notFilledHere(placeholder), column: index + 1)
                }
                endLiteral()
                segments.append(.placeholder(placeholder))
                placeholders.insert(placeholder)
                index = close + 1
            case "}":
                throw ParseError(kind: .unmatchedClosingBrace, column: index + 1)
            default:
                literal.append(contentsOf: String(scalar).utf8)
                index += 1
            }
        }
        endLiteral()
        self.text = text
        self.segments = segments
        self.literalBytes = literal
        self.placeholders = placeholders
        self.maximumRenderedCount = segments.reduce(0) { total, segment in
            switch segment {
            case .literal(let range): total + range.count
            case .placeholder(let placeholder): total + placeholder.maximumRenderedCount
            }
        }
    }

    /// Writes the message with `values` filled in. Returns false, having written nothing, when it
    /// did not fit; it cannot fail with `maximumRenderedCount` bytes free.
    @discardableResult
    public func render(_ values: Values, into writer: inout ByteWriter) -> Bool {
        let start = writer.count
        literalBytes.withUnsafeBytes { literal in
            for segment in segments {
                switch segment {
                case .literal(let range):
                    writer.write(UnsafeRawBufferPointer(rebasing: literal[range]))
                case .placeholder(.count):
                    writer.write(decimal: values.count)
                case .placeholder(.seq):
                    writer.write(decimal: values.seq)
                case .placeholder(.time):
                    values.time.write(to: &writer)
                case .placeholder(.clients):
                    writer.write(decimal: Int64(values.clients))
                case .placeholder(.peer):
                    values.peer?.write(to: &writer)
                }
            }
        }
        return writer.commit(since: start)
    }

    public var description: String { text }

    public static func == (left: MessageTemplate, right: MessageTemplate) -> Bool {
        left.text == right.text
    }
}

/// A wall-clock time as nanoseconds since the Unix epoch (CLOCK_REALTIME).
public struct UnixTime: Sendable, Hashable, Comparable {
    public var nanosecondsSinceEpoch: Int64

    public init(nanosecondsSinceEpoch: Int64) {
        self.nanosecondsSinceEpoch = nanosecondsSinceEpoch
    }

    /// From `timespec` fields as clock_gettime(2) returns them.
    public init(seconds: Int64, nanoseconds: Int64) {
        self.nanosecondsSinceEpoch = seconds * 1_000_000_000 + nanoseconds
    }

    public static func < (left: UnixTime, right: UnixTime) -> Bool {
        left.nanosecondsSinceEpoch < right.nanosecondsSinceEpoch
    }

    /// Writes seconds with six decimals, `1732212345.123456`. Sub-microsecond digits are cut,
    /// not rounded, so a time never prints as the next second. A time before the epoch gets a
    /// `-` in front of the same digits.
    public func write(to writer: inout ByteWriter) {
        let magnitude = nanosecondsSinceEpoch.magnitude
        let seconds = magnitude / 1_000_000_000
        let microseconds = magnitude % 1_000_000_000 / 1_000
        let length = (nanosecondsSinceEpoch < 0 ? 1 : 0) + decimalDigitCount(seconds) + 7
        guard writer.claimRoom(for: length) else { return }
        if nanosecondsSinceEpoch < 0 { writer.write(UInt8(ascii: "-")) }
        writer.write(decimal: seconds)
        writer.write(UInt8(ascii: "."))
        writer.write(decimal: microseconds, zeroPaddedTo: 6)
    }
}
