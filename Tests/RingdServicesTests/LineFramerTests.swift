// LineFramer: the same lines whatever the read boundaries, terminators kept as received, and a
// bound on line length and on the memory held for a partial line.

import RingdServices
import Testing

/// What a framer reported, copied out so it outlives the framer's buffer.
enum Framed: Equatable, CustomStringConvertible {
    case line([UInt8])
    case tooLong

    var description: String {
        switch self {
        case .line(let bytes): "line(\(String(decoding: bytes, as: UTF8.self).debugDescription))"
        case .tooLong: "tooLong"
        }
    }
}

/// Feeds `reads` to a fresh framer, then ends the stream, and returns every event in order.
/// `largestReserved` is the most memory the framer held at any point.
func frame(_ reads: [[UInt8]], maxLine: Int = 1024, largestReserved: UnsafeMutablePointer<Int>? = nil) -> [Framed] {
    var framer = LineFramer(maxLine: maxLine)
    var events: [Framed] = []
    for read in reads {
        events += feed(&framer, read)
        largestReserved?.pointee = max(largestReserved?.pointee ?? 0, framer.reservedCount)
    }
    if case .line(let last)? = framer.finish() { events.append(.line(Array(last.bytes))) }
    return events
}

/// Feeds one read to `framer` and returns the events, copied out.
func feed(_ framer: inout LineFramer, _ read: [UInt8]) -> [Framed] {
    var events: [Framed] = []
    read.withUnsafeBytes { input in
        var position = 0
        while let event = framer.next(in: input, position: &position) {
            switch event {
            case .line(let line): events.append(.line(Array(line.bytes)))
            case .lineTooLong: events.append(.tooLong)
            }
        }
        #expect(position == input.count, "a call that returns nil has used the whole read")
    }
    return events
}

func feed(_ framer: inout LineFramer, _ read: String) -> [Framed] { feed(&framer, Array(read.utf8)) }

func lines(_ texts: String...) -> [Framed] { texts.map { .line(Array($0.utf8)) } }

/// Cuts `bytes` into reads of 1...`longest` bytes chosen by `generator`.
func randomReads(_ bytes: [UInt8], longest: Int, _ generator: inout SeededGenerator) -> [[UInt8]] {
    var reads: [[UInt8]] = []
    var start = 0
    while start < bytes.count {
        let end = min(bytes.count, start + Int.random(in: 1...longest, using: &generator))
        reads.append(Array(bytes[start..<end]))
        start = end
    }
    return reads
}

@Suite struct LineFramerTests {
    /// Lines of every awkward kind: empty, CRLF, a lone CR inside, NULs, a last one without "\n".
    static let stream = Array("Here we go...\n\nWow, a response!\r\n\r\nnul\u{0}inside\u{0}\nbare\rcr\n\u{0}\nGoodbye".utf8)
    static let expected = lines(
        "Here we go...\n", "\n", "Wow, a response!\r\n", "\r\n", "nul\u{0}inside\u{0}\n", "bare\rcr\n", "\u{0}\n", "Goodbye")

    @Test func splitsOneReadIntoLinesKeepingTerminatorsAsReceived() {
        #expect(frame([Self.stream]) == Self.expected)
    }

    @Test func byteByByteReadsGiveTheSameLines() {
        #expect(frame(Self.stream.map { [$0] }) == Self.expected)
    }

    @Test(arguments: 0..<64 as Range<UInt64>)
    func randomReadBoundariesGiveTheSameLines(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        // Many lines of random length and content, NULs and CRs included.
        var bytes: [UInt8] = []
        for _ in 0..<200 {
            for _ in 0..<Int.random(in: 0...40, using: &generator) {
                bytes.append([0, 13, 65, 97, 122, 32, 255].randomElement(using: &generator)!)
            }
            bytes.append(10)
        }
        let whole = frame([bytes], maxLine: 64)
        #expect(whole.count == 200)
        #expect(frame(randomReads(bytes, longest: 97, &generator), maxLine: 64) == whole)
        #expect(frame(randomReads(bytes, longest: 3, &generator), maxLine: 64) == whole)
    }

    @Test func contentDropsTheTerminatorAndOnlyACRRightBeforeIt() {
        withLine("a\rb\r\n") { line in
            #expect(line.terminator == .carriageReturnLineFeed)
            #expect(Array(line.content) == Array("a\rb".utf8))
        }
        withLine("plain\n") { line in
            #expect(line.terminator == .lineFeed)
            #expect(Array(line.content) == Array("plain".utf8))
        }
        withLine("last") { line in
            #expect(line.terminator == .none)
            #expect(Array(line.content) == Array("last".utf8))
        }
        withLine("\r") { line in
            #expect(line.terminator == .none)
            #expect(Array(line.content) == [13])
        }
    }

    @Test func aLineWithinOneReadIsHandedOutInPlaceWithoutBuffering() {
        var framer = LineFramer(maxLine: 100)
        let read = Array("one\ntwo\n".utf8)
        read.withUnsafeBytes { input in
            var position = 0
            guard case .line(let first)? = framer.next(in: input, position: &position) else {
                Issue.record("no line")
                return
            }
            #expect(first.bytes.baseAddress == input.baseAddress)
            #expect(position == 4)
        }
        let reserved = framer.reservedCount
        #expect(reserved == 0)
    }

    @Test func aLineOfExactlyMaxLineBytesIsAcceptedInAnySplit() {
        let line = Array(repeating: UInt8(ascii: "x"), count: 16) + [10]
        #expect(frame([line], maxLine: 16) == [.line(line)])
        #expect(frame(line.map { [$0] }, maxLine: 16) == [.line(line)])
        #expect(frame([Array(line[..<16]), [10]], maxLine: 16) == [.line(line)])
    }

    @Test func aLongerLineIsReportedOnceAfterTheLinesBeforeIt() {
        let stream = Array("ok\n\(String(repeating: "y", count: 17))\nnever\n".utf8)
        let expected: [Framed] = lines("ok\n") + [.tooLong]
        #expect(frame([stream], maxLine: 16) == expected)
        #expect(frame(stream.map { [$0] }, maxLine: 16) == expected)
        // The CR of a CRLF counts toward the limit: it is part of what the framer must hold.
        #expect(frame([Array("\(String(repeating: "z", count: 16))\r\n".utf8)], maxLine: 16) == [.tooLong])
    }

    @Test func aLongLineIsReportedBeforeItsNewlineArrives() {
        var framer = LineFramer(maxLine: 8)
        let chunk = Array("123456789".utf8)
        chunk.withUnsafeBytes { input in
            var position = 0
            guard case .lineTooLong? = framer.next(in: input, position: &position) else {
                Issue.record("a 9-byte partial line with maxLine 8 was not reported")
                return
            }
            let afterFailure = framer.next(in: input, position: &position)
            #expect(afterFailure == nil)
        }
        let (failed, last, buffered) = (framer.failed, framer.finish(), framer.bufferedCount)
        #expect(failed)
        #expect(last == nil)
        #expect(buffered == 0)
    }

    @Test func memoryStaysBoundedUnderAnEndlessLine() {
        var largest = 0
        let reads = Array(repeating: Array(repeating: UInt8(ascii: "a"), count: 100), count: 10_000)  // 1 MB, no "\n"
        #expect(frame(reads, maxLine: 1000, largestReserved: &largest) == [.tooLong])
        #expect(largest <= 1001)
        #expect(largest > 0)
    }

    @Test func memoryStaysBoundedAcrossManySplitLines() {
        var generator = SeededGenerator(seed: 99)
        var bytes: [UInt8] = []
        for _ in 0..<300 {
            bytes += Array(repeating: UInt8(ascii: "b"), count: Int.random(in: 0...500, using: &generator)) + [10]
        }
        var largest = 0
        let framed = frame(randomReads(bytes, longest: 700, &generator), maxLine: 500, largestReserved: &largest)
        #expect(framed.count == 300)
        #expect(!framed.contains(.tooLong))
        #expect(largest <= 501)
    }

    @Test func endOfStreamGivesTheUnterminatedLastLineOnce() {
        var framer = LineFramer(maxLine: 64)
        Array("abc\ndef".utf8).withUnsafeBytes { input in
            var position = 0
            _ = framer.next(in: input, position: &position)
            let partial = framer.next(in: input, position: &position)
            #expect(partial == nil)
        }
        let buffered = framer.bufferedCount
        #expect(buffered == 3)
        guard case .line(let last)? = framer.finish() else {
            Issue.record("no last line")
            return
        }
        #expect(Array(last.bytes) == Array("def".utf8))
        let again = framer.finish()
        #expect(again == nil)
    }

    @Test func anEmptyReadYieldsNothing() {
        #expect(frame([[], [], Array("x\n".utf8), []]) == lines("x\n"))
    }

    @Test func resetForgetsThePartialLineAndAFailureButKeepsASmallBuffer() {
        var framer = LineFramer(maxLine: 64)
        #expect(feed(&framer, "one\ntw") == lines("one\n"))
        let reservedBefore = framer.reservedCount
        #expect(reservedBefore > 0)

        framer.reset()
        // The next connection on this slot starts clean: nothing of "tw" is carried over...
        let carried = framer.finish()
        #expect(carried == nil)
        #expect(feed(&framer, "thr") == [])
        #expect(feed(&framer, "ee\n") == lines("three\n"))
        // ...and it reuses the buffer instead of allocating another.
        let reservedAfter = framer.reservedCount
        #expect(reservedAfter == reservedBefore)

        // After a line too long, a reset framer frames again.
        #expect(feed(&framer, String(repeating: "x", count: 65)) == [.tooLong])
        #expect(feed(&framer, "ignored\n") == [])
        framer.reset()
        #expect(feed(&framer, "again\n") == lines("again\n"))
    }

    @Test func resetFreesABufferLargerThanTheRetainedCapacity() {
        let maxLine = LineFramer.retainedCapacity * 4
        var framer = LineFramer(maxLine: maxLine)
        #expect(feed(&framer, String(repeating: "y", count: LineFramer.retainedCapacity * 2)) == [])
        let grown = framer.reservedCount
        #expect(grown > LineFramer.retainedCapacity)

        framer.reset()
        let kept = framer.reservedCount
        #expect(kept == 0)
        #expect(feed(&framer, "a\nb") == lines("a\n"))
        #expect(feed(&framer, "c\n") == lines("bc\n"))
    }
}
