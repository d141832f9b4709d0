// How big the pieces of a worker's output memory are, derived from the keys that bound what
// ringd renders: the longest echo or relay line and the longest rendering of each message.
//
// A worker renders replies, heartbeats and relayed lines into chunks carved from
// `io.output_memory`, and one rendered line must fit in one chunk. The schema's constraints use
// these numbers to refuse a configuration in which it would not (see `Schema.constraints`).

import RingdServices

extension Configuration {
    /// Bytes a rendered line may take beyond its `max_line` bytes of text: a prefix ("N: " for
    /// numbered echo, "NAME: " for relay) and the line end, with room to spare. It covers
    /// `EchoLines.maximumReplyCount` and, for limits of 16 bytes or more,
    /// `RelayFormat.maximumLineCount`, whose notices take up to 80 bytes; below that, the 64 KiB
    /// floor of a chunk and the 512-byte floor of `io.output_cap` cover them (a test checks this).
    static let lineOverhead = 64

    /// Bytes in one chunk of a worker's output memory: the longest line ringd may render
    /// (`longestRenderedLine`) rounded up to a power of two, and at least 64 KiB.
    public var outputChunkSize: Int {
        // A relay event renders up to two lines (a notice and an error, say) in one go, and they
        // must land in one chunk.
        max(64 << 10, nextPowerOfTwo(max(longestRenderedLine.bytes, RelayFormat.maximumHubOutputCount(maxLine: relay.maxLine))))
    }

    /// The longest line ringd may render, whatever the mode, and the key that sets it:
    /// `max(echo.max_line, relay.max_line) + lineOverhead`, or the longest rendering of a message
    /// when that is longer.
    var longestRenderedLine: (bytes: Int, cause: String) {
        echo.maxLine >= relay.maxLine
            ? longestLine(maxLineKey: "echo.max_line", maxLine: echo.maxLine, orOneOf: messages)
            : longestLine(maxLineKey: "relay.max_line", maxLine: relay.maxLine, orOneOf: messages)
    }

    /// The longest line a broadcast or relay client may be sent, and the key that sets it: a chat
    /// line of `relay.max_line` bytes, or the longest broadcast message or greeting.
    var longestPushedLine: (bytes: Int, cause: String) {
        longestLine(
            maxLineKey: "relay.max_line", maxLine: relay.maxLine,
            orOneOf: messages.filter { $0.path.hasPrefix("broadcast.") })
    }

    /// A line of `maxLine` bytes plus `lineOverhead`, or the longest rendering of one of
    /// `messages` when that is longer, with the key that sets it.
    private func longestLine(
        maxLineKey: String, maxLine: Int, orOneOf messages: [(path: String, template: MessageTemplate)]
    ) -> (bytes: Int, cause: String) {
        var longest = (
            bytes: maxLine + Self.lineOverhead,
            cause: "\(maxLineKey) (\(ByteCountText.text(bytes: maxLine))) + \(Self.lineOverhead) bytes"
        )
        for (path, message) in messages where message.maximumRenderedCount > longest.bytes {
            longest = (message.maximumRenderedCount, "the longest rendering of \(path)")
        }
        return longest
    }

    /// Every message template that is set, with its key.
    private var messages: [(path: String, template: MessageTemplate)] {
        var all = [
            ("greet.message", greet.message), ("counter.message", counter.message), ("broadcast.message", broadcast.message),
        ]
        if let greeting = broadcast.greeting { all.append(("broadcast.greeting", greeting)) }
        return all
    }
}

/// The smallest power of two at least `count` (1 for 0 or less).
func nextPowerOfTwo(_ count: Int) -> Int {
    guard count > 1 else { return 1 }
    return 1 << (Int.bitWidth - (count - 1).leadingZeroBitCount)
}
