// libFuzzer entry point for LineFramer (Sources/RingdServices): libFuzzer's bytes choose a line
// limit and a schedule of reads, resets and ends of stream, the rest is the stream, and every
// event the framer gives must be the one a plain byte-at-a-time model gives at the same read. A
// difference aborts, which libFuzzer records as a crash with the input. Built and run by
// `tools/fuzz/run.sh framer` with `swiftc -O -sanitize=fuzzer` (and `address`); not a SwiftPM
// target.
//
// An input is a header, then the stream:
//   bytes 0-1   maxLine = 1 + (little-endian UInt16 % 5000), so limits below and above the
//               framer's first buffer (256 bytes) and the capacity reset keeps (4096) are tried
//   byte 2      n, the number of schedule steps (n % 16)
//   n bytes     the schedule, used in a cycle until the stream is used up: 0xFF resets the framer
//               (a connection closed mid-line), 0xFE ends the stream with `finish()` and then
//               resets (a connection closed by its peer), any other value is the length of the
//               next read (0 is an empty read)
//   the rest    the stream
// An input shorter than its header is one read of whatever there is, with maxLine 1.
//
// What is checked, besides the events: a read is always used up, the framer's `bufferedCount`
// and `failed` agree with the model after every read, it never holds more than maxLine + 1
// bytes (nor more than `retainedCapacity` after a reset that freed a larger buffer), it holds
// nothing until a read ends inside a line, a line wholly inside one read points into that read,
// and `Line.terminator` and `Line.content` agree with the bytes.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RingdServices

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    let (maxLine, schedule, stream) = header(of: input)
    var check = FramerCheck(maxLine: maxLine)
    var start = stream.startIndex
    var step = 0
    var stepsWithoutBytes = 0
    while start < stream.endIndex {
        // A schedule of resets, ends and empty reads alone would never use the stream up: after a
        // whole cycle of those, the rest is one read.
        let action = stepsWithoutBytes > schedule.count ? nil : schedule.isEmpty ? nil : schedule[step % schedule.count]
        step += 1
        switch action {
        case 0xFF:
            check.reset()
            stepsWithoutBytes += 1
        case 0xFE:
            check.finish()
            check.reset()
            stepsWithoutBytes += 1
        default:
            let length = action.map { min(Int($0), stream.endIndex - start) } ?? (stream.endIndex - start)
            check.read(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: stream[start..<(start + length)])))
            start += length
            stepsWithoutBytes = length == 0 ? stepsWithoutBytes + 1 : 0
        }
    }
    check.finish()
    return 0
}

/// The line limit, the schedule and the stream an input holds; see the file comment.
private func header(
    of input: UnsafeBufferPointer<UInt8>
) -> (maxLine: Int, schedule: ArraySlice<UInt8>, stream: UnsafeBufferPointer<UInt8>.SubSequence) {
    guard input.count >= 3, input.count >= 3 + Int(input[2] % 16) else {
        return (1, [], input[...])
    }
    let maxLine = 1 + (Int(input[0]) | Int(input[1]) << 8) % 5000
    let steps = Int(input[2] % 16)
    return (maxLine, ArraySlice(input[3..<(3 + steps)]), input[(3 + steps)...])
}

/// A framer and the model it must agree with, fed the same reads.
private struct FramerCheck: ~Copyable {
    var framer: LineFramer
    var model: FramerModel
    /// Whether some read has ended inside a line since the framer was made; until then it must
    /// hold no buffer.
    var hasBuffered = false

    init(maxLine: Int) {
        framer = LineFramer(maxLine: maxLine)
        model = FramerModel(maxLine: maxLine)
    }

    mutating func read(_ input: UnsafeRawBufferPointer) {
        let expected = model.read(input)
        var got: [ModelEvent] = []
        var position = 0
        let startedInside = model.bufferedBeforeLastRead > 0
        while let event = framer.next(in: input, position: &position) {
            guard position <= input.count else { fail("position \(position) past a read of \(input.count) bytes") }
            switch event {
            case .line(let line):
                checkLine(line, maxLine: framer.maxLine)
                // Only the first line of a read can have begun in an earlier one.
                let inPlace = !(got.isEmpty && startedInside)
                if inPlace != contains(input, line.bytes) {
                    fail("line \(got.count) of a read \(inPlace ? "was copied" : "points into the read") though it \(inPlace ? "lies" : "does not lie") wholly inside it")
                }
                got.append(.line(Array(line.bytes)))
            case .lineTooLong:
                got.append(.lineTooLong)
            }
        }
        if position != input.count { fail("a read of \(input.count) bytes was used up to \(position) only") }
        if got != expected { fail("a read of \(input.count) bytes gave \(got), not \(expected)") }
        if framer.bufferedCount != model.partial.count || framer.failed != model.failed {
            fail("after a read the framer holds \(framer.bufferedCount) bytes (failed: \(framer.failed)), not \(model.partial.count) (failed: \(model.failed))")
        }
        hasBuffered = hasBuffered || framer.bufferedCount > 0
        checkMemory()
    }

    mutating func finish() {
        let expected = model.finish()
        var got: ModelEvent?
        switch framer.finish() {
        case .line(let line)?:
            checkLine(line, maxLine: framer.maxLine)
            got = .line(Array(line.bytes))
        case .lineTooLong?:
            got = .lineTooLong
        case nil:
            got = nil
        }
        if got != expected { fail("the end of the stream gave \(String(describing: got)), not \(String(describing: expected))") }
        if framer.bufferedCount != 0 { fail("after finish() the framer still holds \(framer.bufferedCount) bytes") }
        let again = framer.finish()
        if again != nil { fail("a second finish() gave a line") }
        checkMemory()
    }

    mutating func reset() {
        let before = framer.reservedCount
        framer.reset()
        model.reset()
        if framer.bufferedCount != 0 || framer.failed { fail("reset() left \(framer.bufferedCount) bytes (failed: \(framer.failed))") }
        let after = framer.reservedCount
        if after != (before > LineFramer.retainedCapacity ? 0 : before) {
            fail("reset() turned a buffer of \(before) bytes into one of \(after)")
        }
    }

    private func checkMemory() {
        if framer.reservedCount > framer.maxLine + 1 {
            fail("the framer holds \(framer.reservedCount) bytes for maxLine \(framer.maxLine)")
        }
        if !hasBuffered && framer.reservedCount != 0 {
            fail("the framer allocated \(framer.reservedCount) bytes before any read ended inside a line")
        }
    }
}

/// What the framer gives, copied out so that it outlives the framer's buffer.
private enum ModelEvent: Equatable {
    case line([UInt8])
    case lineTooLong
}

/// The framer's contract at its plainest: one byte at a time, a line is everything up to and
/// including "\n", and once more than `maxLine` bytes are waiting for their "\n" the line is too
/// long and the rest of the stream is ignored.
private struct FramerModel {
    let maxLine: Int
    var partial: [UInt8] = []
    var failed = false
    /// `partial.count` when the last read began.
    var bufferedBeforeLastRead = 0

    init(maxLine: Int) {
        self.maxLine = maxLine
    }

    mutating func read(_ input: UnsafeRawBufferPointer) -> [ModelEvent] {
        bufferedBeforeLastRead = partial.count
        var events: [ModelEvent] = []
        for byte in input where !failed {
            if byte == UInt8(ascii: "\n") {
                partial.append(byte)
                events.append(.line(partial))
                partial.removeAll(keepingCapacity: true)
            } else if partial.count == maxLine {
                failed = true
                partial.removeAll(keepingCapacity: true)
                events.append(.lineTooLong)
            } else {
                partial.append(byte)
            }
        }
        return events
    }

    mutating func finish() -> ModelEvent? {
        defer { partial.removeAll(keepingCapacity: true) }
        return failed || partial.isEmpty ? nil : .line(partial)
    }

    mutating func reset() {
        partial.removeAll(keepingCapacity: true)
        failed = false
    }
}

/// A line must end in "\n" only at its end (or not at all for a last line), hold at most
/// `maxLine` bytes before it, and its terminator and content must agree with its bytes.
private func checkLine(_ line: Line, maxLine: Int) {
    let bytes = line.bytes
    let newline = UInt8(ascii: "\n")
    let ending: Line.Terminator =
        bytes.last != newline ? .none
        : bytes.count >= 2 && bytes[bytes.count - 2] == UInt8(ascii: "\r") ? .carriageReturnLineFeed : .lineFeed
    if line.terminator != ending { fail("line \(Array(bytes)) has terminator \(line.terminator), not \(ending)") }
    let terminatorLength = ending == .none ? 0 : ending == .lineFeed ? 1 : 2
    if !line.content.elementsEqual(bytes.dropLast(terminatorLength)) {
        fail("line \(Array(bytes)) has content \(Array(line.content))")
    }
    if bytes.isEmpty { fail("an empty line without \"\\n\"") }
    if bytes.dropLast().contains(newline) { fail("line \(Array(bytes)) holds a \"\\n\" before its end") }
    if bytes.count - (ending == .none ? 0 : 1) > maxLine { fail("a line of \(bytes.count) bytes with maxLine \(maxLine)") }
}

/// Whether `part` lies within `whole`'s memory.
private func contains(_ whole: UnsafeRawBufferPointer, _ part: UnsafeRawBufferPointer) -> Bool {
    guard let wholeStart = whole.baseAddress, let partStart = part.baseAddress else { return false }
    return partStart >= wholeStart && partStart + part.count <= wholeStart + whole.count
}

private func fail(_ message: String) -> Never {
    fputs("ringd framer fuzzer: broken promise: \(message)\n", stderr)
    abort()
}
