// RESPDecoder: every element type decoded to the bytes sent, the same values whatever the read
// boundaries, strings handed out in place, malformed input and passed bounds named with the
// stream offset where they show, and "need more bytes" that consumes nothing.

import RingdCluster
import Testing

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A stream that holds every element type, nested aggregates, nulls, empty ones, and a pub/sub
/// message in both its RESP2 and RESP3 forms.
let mixedStream = bytes(
    "+OK\r\n-ERR unknown command 'FOO'\r\n:0\r\n:-9223372036854775808\r\n:+42\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n"
        + "*-1\r\n*0\r\n*3\r\n$7\r\nmessage\r\n$14\r\nringd:relay:id\r\n$10\r\nhi\r\nthere\r\r\n"
        + "*2\r\n*1\r\n:1\r\n*2\r\n$1\r\na\r\n*0\r\n_\r\n#t\r\n#f\r\n,3.25\r\n(-12345678901234567890\r\n"
        + "!11\r\nSYNTAX oops\r\n=15\r\ntxt:Some string\r\n%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n~2\r\n:1\r\n:2\r\n"
        + ">3\r\n$7\r\nmessage\r\n$5\r\nchan1\r\n$0\r\n\r\n%0\r\n")

let mixedValues: [RESPValue] = [
    .simple("OK"), .error(bytes("ERR unknown command 'FOO'")), .integer(0), .integer(.min), .integer(42),
    .bulk("hello"), .bulk(""), .bulkString(nil), .array(nil), .array([]),
    .array([.bulk("message"), .bulk("ringd:relay:id"), .bulk("hi\r\nthere\r")]),
    .array([.array([.integer(1)]), .array([.bulk("a"), .array([])])]),
    .null, .boolean(true), .boolean(false), .double(bytes("3.25")), .bigNumber(bytes("-12345678901234567890")),
    .bulkError(bytes("SYNTAX oops")), .verbatimString(format: bytes("txt"), text: bytes("Some string")),
    .map([.simple("a"), .integer(1), .simple("b"), .integer(2)]), .set([.integer(1), .integer(2)]),
    .push([.bulk("message"), .bulk("chan1"), .bulk("")]), .map([]),
]

@Suite struct RESPDecoderTests {
    @Test func everyElementTypeDecodesToWhatWasSent() {
        let decoded = RESPStreamDecoder.decode([mixedStream])
        #expect(decoded.end == .complete)
        #expect(decoded.values == mixedValues)
    }

    @Test func theSameValuesWhateverTheOneSplit() {
        for split in 0...mixedStream.count {
            let decoded = RESPStreamDecoder.decode([Array(mixedStream[..<split]), Array(mixedStream[split...])])
            #expect(decoded.values == mixedValues, "split at byte \(split)")
            #expect(decoded.end == .complete, "split at byte \(split)")
        }
    }

    @Test func theSameValuesFedAByteAtATime() {
        var stream = RESPStreamDecoder()
        for (offset, byte) in mixedStream.enumerated() {
            stream.receive([byte])
            let wholeSoFar = RESPReference.decode(Array(mixedStream[...offset]))
            #expect(stream.values == wholeSoFar.values, "after byte \(offset)")
            #expect(stream.end == wholeSoFar.end, "after byte \(offset)")
        }
        #expect(stream.values == mixedValues)
    }

    @Test func needMoreBytesConsumesNothingAndNamesNoError() throws {
        let partial = bytes("*2\r\n$5\r\nhel")
        var decoder = RESPDecoder()
        try partial.withUnsafeBytes { window in
            var position = 0
            guard case .array(count: 2)? = try decoder.next(in: window, position: &position) else {
                Issue.record("no array header")
                return
            }
            #expect(position == 4)
            #expect(decoder.depth == 1)
            #expect(try decoder.next(in: window, position: &position) == nil)
            #expect(position == 4, "an incomplete bulk string is not consumed")
            #expect(decoder.decodedCount == 4)
        }
    }

    @Test func stringsPointIntoTheWindow() throws {
        let stream = bytes("+OK\r\n$5\r\nhello\r\n=7\r\ntxt:abc\r\n")
        var decoder = RESPDecoder()
        try stream.withUnsafeBytes { window in
            var position = 0
            var views: [UnsafeRawBufferPointer] = []
            while let element = try decoder.next(in: window, position: &position) {
                switch element {
                case .simpleString(let text), .bulkString(let text?): views.append(text)
                case .verbatimString(let format, let text): views += [format, text]
                default: Issue.record("unexpected \(element)")
                }
            }
            let offsets = views.map { $0.baseAddress! - window.baseAddress! }
            #expect(offsets == [1, 9, 20, 24])
            #expect(views.map { String(decoding: $0, as: UTF8.self) } == ["OK", "hello", "txt", "abc"])
        }
    }

    /// A reply whole or not at all: copy the decoder and the position, put both back on nil.
    @Test func aCopiedDecoderRollsAReplyBack() throws {
        let reply = bytes("*3\r\n$9\r\nsubscribe\r\n$11\r\nringd:relay\r\n:1\r\n")
        var decoder = RESPDecoder()
        var elements = 0
        for cut in [6, 30, reply.count] {
            try Array(reply[..<cut]).withUnsafeBytes { window in
                var position = 0
                let saved = decoder
                elements = 0
                while (try decoder.next(in: window, position: &position)) != nil {
                    elements += 1
                    if decoder.depth == 0 { break }
                }
                if decoder.depth != 0 || elements == 0 {
                    decoder = saved
                    position = 0
                }
                #expect(position == (cut == reply.count ? reply.count : 0), "cut at \(cut)")
            }
        }
        #expect(elements == 4)
        #expect(decoder.depth == 0 && decoder.decodedCount == reply.count)
    }

    @Test(arguments: [
        ("?x\r\n", RESPProtocolError.Kind.unknownType(UInt8(ascii: "?")), 0),
        ("+OK\r\n|1\r\n+a\r\n+b\r\n", .unknownType(UInt8(ascii: "|")), 5),
        ("+OK\r\n+O\rK\r\n", .bareCarriageReturn, 7),
        ("+OK\n", .bareLineFeed, 3),
        (":12a\r\n", .malformedInteger, 0),
        (":\r\n", .malformedInteger, 0),
        (":-\r\n", .malformedInteger, 0),
        (":9223372036854775808\r\n", .malformedInteger, 0),
        (":1 \r\n", .malformedInteger, 0),
        ("$\r\n", .malformedLength, 0),
        ("$-2\r\n", .malformedLength, 0),
        ("$+1\r\na\r\n", .malformedLength, 0),
        ("$?\r\n", .malformedLength, 0),
        ("*-1\r\n%-1\r\n", .malformedLength, 5),
        ("!-1\r\n", .malformedLength, 0),
        ("*x\r\n", .malformedLength, 0),
        ("$3\r\nabcd\r\n", .missingTerminator, 7),
        ("$3\r\nab\r\n\r\n", .missingTerminator, 7),
        ("_x\r\n", .malformedValue, 0),
        ("#T\r\n", .malformedValue, 0),
        ("=3\r\ntxt\r\n", .malformedValue, 0),
        ("=5\r\ntxt-a\r\n", .malformedValue, 0),
    ])
    func malformedInputIsNamedWhereItShows(input: String, kind: RESPProtocolError.Kind, offset: Int) {
        let expected = RESPProtocolError(kind, at: offset)
        #expect(RESPStreamDecoder.decode([bytes(input)]).end == .failed(expected), "\(input.debugDescription)")
        #expect(RESPReference.decode(bytes(input)).end == .failed(expected), "\(input.debugDescription)")
    }

    @Test func boundsAreNamedAsSoonAsTheBytesShowThemPassed() {
        let limits = RESPLimits(maximumBulkLength: 10, maximumAggregateCount: 4, maximumDepth: 2, maximumLineLength: 8)
        let cases: [(String, RESPProtocolError)] = [
            // From the header alone: the 11 bytes never arrive.
            ("$11\r\n", RESPProtocolError(.bulkTooLong(11), at: 0)),
            ("$10\r\n0123456789\r\n$1000000\r\n", RESPProtocolError(.bulkTooLong(1_000_000), at: 17)),
            ("*5\r\n", RESPProtocolError(.aggregateTooLong(5), at: 0)),
            ("%3\r\n", RESPProtocolError(.aggregateTooLong(6), at: 0)),
            ("*1\r\n*1\r\n*1\r\n", RESPProtocolError(.nestedTooDeep, at: 8)),
            ("*1\r\n*1\r\n*0\r\n", RESPProtocolError(.nestedTooDeep, at: 8)),
            // At the ninth byte of the line, before its CR LF arrives.
            ("+123456789", RESPProtocolError(.lineTooLong, at: 9)),
        ]
        for (input, error) in cases {
            #expect(RESPStreamDecoder.decode([bytes(input)], limits: limits).end == .failed(error), "\(input.debugDescription)")
            #expect(RESPReference.decode(bytes(input), limits: limits).end == .failed(error), "\(input.debugDescription)")
        }
        // A length too large for 64 bits is still a length, and too long.
        let huge = bytes("*99999999999999999999999\r\n")
        #expect(RESPStreamDecoder.decode([huge]).end == .failed(RESPProtocolError(.aggregateTooLong(.max), at: 0)))
        let atTheBounds = "+12345678\r\n$10\r\n0123456789\r\n*4\r\n*1\r\n:1\r\n%2\r\n_\r\n_\r\n_\r\n_\r\n*0\r\n*0\r\n"
        let decoded = RESPStreamDecoder.decode([bytes(atTheBounds)], limits: limits)
        #expect(decoded.end == .complete)
        #expect(decoded.values.count == 3)
    }

    @Test func anErrorStaysUntilReset() throws {
        var decoder = RESPDecoder()
        let bad = bytes("+OK\r\n?\r\n")
        let good = bytes(":7\r\n")
        try bad.withUnsafeBytes { window in
            var position = 0
            _ = try decoder.next(in: window, position: &position)
            #expect(throws: RESPProtocolError(.unknownType(UInt8(ascii: "?")), at: 5)) {
                try decoder.next(in: window, position: &position)
            }
            #expect(position == 5)
        }
        try good.withUnsafeBytes { window in
            var position = 0
            #expect(throws: RESPProtocolError(.unknownType(UInt8(ascii: "?")), at: 5)) {
                try decoder.next(in: window, position: &position)
            }
            decoder.reset()
            guard case .integer(7)? = try decoder.next(in: window, position: &position) else {
                Issue.record("no integer after reset")
                return
            }
            #expect(decoder.decodedCount == 4)
        }
    }

    @Test func errorsDescribeThemselvesWithTheirOffset() {
        #expect(
            RESPProtocolError(.bulkTooLong(2_000_000), at: 17).description
                == "RESP protocol error at byte 17: a bulk string of 2000000 bytes, over the limit")
        #expect(
            RESPProtocolError(.unknownType(0x7C), at: 0).description
                == "RESP protocol error at byte 0: no RESP element starts with byte 0x7c")
    }

    @Test func aWindowOfTheLargestElementAlwaysMakesProgress() {
        let limits = RESPLimits(maximumBulkLength: 16, maximumAggregateCount: 4, maximumDepth: 2, maximumLineLength: 4)
        // A header padded with zeros to the line limit, then the largest payload.
        let element = bytes("$0016\r\n0123456789abcdef\r\n")
        #expect(element.count == limits.maximumElementCount)
        #expect(RESPStreamDecoder.decode([element], limits: limits).values == [.bulk("0123456789abcdef")])
    }
}
