// libFuzzer entry point for the RESP codec (Sources/RingdCluster): libFuzzer's bytes choose the
// decoder's limits and a schedule of read lengths, the rest is what "Redis" sends. The decoder,
// fed those reads as a connection would feed it, must find the same values and end the same way
// (complete, inside a value, or the same protocol error at the same offset) as the recursive
// reference in Tests/RingdClusterTests/Support/RESPReference.swift, which reads the whole stream
// at once. A difference aborts, which libFuzzer records as a crash with the input. Built and run
// by `tools/fuzz/run.sh resp` with `swiftc -O -sanitize=fuzzer` (and `address`); not a SwiftPM
// target.
//
// An input is a header, then the stream:
//   byte 0      the limits: bits 0-1 pick maximumBulkLength (0, 7, 300, 1 MiB), bits 2-3
//               maximumAggregateCount (1, 3, 16, 65,536), bits 4-5 maximumDepth (1, 2, 3, 8),
//               bits 6-7 maximumLineLength (1, 6, 40, 64 KiB), so that every bound is met often
//   byte 1      n, the number of read lengths (n % 16)
//   n bytes     read lengths, used in a cycle until the stream is used up (0 is an empty read)
//   the rest    the stream
// An input shorter than its header is one read of whatever there is, under the standard limits.
//
// What is checked, besides the values and the end: every string an element carries lies inside
// the window it was decoded from (nothing copied), `decodedCount` is the bytes consumed, `depth`
// is 0 after a whole value and not after an incomplete one, an error is thrown again by the next
// call, and a command built from slices of the stream, written by RESPCommand, reads back as the
// array of bulk strings it holds.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RingdCluster
import RingdServices

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let (limits, schedule, stream) = header(of: input)
    checkDecoder(stream, reads: reads(of: stream, schedule: schedule), limits: limits)
    checkEncoder(stream, schedule: schedule)
    return 0
}

private func header(of input: [UInt8]) -> (RESPLimits, [Int], [UInt8]) {
    guard input.count >= 2, input.count >= 2 + Int(input[1] % 16) else { return (.standard, [], input) }
    let pick = { (shift: UInt8, choices: [Int]) in choices[Int((input[0] >> shift) & 3)] }
    let limits = RESPLimits(
        maximumBulkLength: pick(0, [0, 7, 300, 1 << 20]), maximumAggregateCount: pick(2, [1, 3, 16, 1 << 16]),
        maximumDepth: pick(4, [1, 2, 3, 8]), maximumLineLength: pick(6, [1, 6, 40, 64 << 10]))
    let steps = Int(input[1] % 16)
    return (limits, input[2..<(2 + steps)].map(Int.init), Array(input[(2 + steps)...]))
}

/// The stream cut by the schedule; after a whole cycle of empty reads, the rest is one read.
private func reads(of stream: [UInt8], schedule: [Int]) -> [[UInt8]] {
    var reads: [[UInt8]] = []
    var start = 0
    var step = 0
    var emptyInARow = 0
    while start < stream.count {
        let wanted = schedule.isEmpty || emptyInARow > schedule.count ? stream.count : schedule[step % schedule.count]
        step += 1
        let length = min(wanted, stream.count - start)
        reads.append(Array(stream[start..<(start + length)]))
        start += length
        emptyInARow = length == 0 ? emptyInARow + 1 : 0
    }
    return reads
}

private func checkDecoder(_ stream: [UInt8], reads: [[UInt8]], limits: RESPLimits) {
    let expected = RESPReference.decode(stream, limits: limits)
    var decoder = RESPStreamDecoder(limits: limits)
    decoder.inspect = { element, window in
        for bytes in strings(of: element) where !bytes.isEmpty && !contains(window, bytes) {
            fail("an element's bytes lie outside the window it came from: \(element)")
        }
    }
    var received = 0
    for read in reads {
        decoder.receive(read)
        received += read.count
        guard decoder.failure == nil else { break }
        if decoder.decoder.decodedCount != received - decoder.unconsumed.count {
            fail("decodedCount \(decoder.decoder.decodedCount) after consuming \(received - decoder.unconsumed.count) bytes")
        }
    }
    if decoder.values != expected.values { fail("values \(decoder.values), not \(expected.values)") }
    if decoder.end != expected.end { fail("the stream ended \(decoder.end), not \(expected.end)") }
    if decoder.end == .complete && decoder.decoder.depth != 0 { fail("depth \(decoder.decoder.depth) after whole values") }
    if let failure = decoder.failure {
        var again = decoder.decoder
        var position = 0
        let thrown: RESPProtocolError? = [UInt8(ascii: "+"), 13, 10].withUnsafeBytes { window in
            do throws(RESPProtocolError) {
                _ = try again.next(in: window, position: &position)
                return nil
            } catch {
                return error
            }
        }
        if thrown != failure { fail("after \(failure) the next call threw \(String(describing: thrown))") }
    }
}

/// A command of up to 7 arguments cut from the stream by the schedule, written and read back.
private func checkEncoder(_ stream: [UInt8], schedule: [Int]) {
    var arguments: [[UInt8]] = []
    var start = 0
    for length in schedule.prefix(RESPCommand.maximumArgumentCount - 1) {
        let end = min(stream.count, start + length)
        arguments.append(Array(stream[start..<end]))
        start = end
    }
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
    defer { storage.deallocate() }
    var writer = ByteWriter(storage)
    // Each argument's bytes must outlive the command; nest the buffers as deep as there are.
    func write(_ index: Int, _ command: inout RESPCommand) {
        guard index < arguments.count else {
            guard let range = command.write(into: &writer), range.count == command.encodedCount else {
                fail("a command of \(command.encodedCount) bytes did not fit 64 KiB")
            }
            return
        }
        arguments[index].withUnsafeBytes { bytes in
            command.append(index % 2 == 0 ? .bytes(bytes) : .joined(bytes, UnsafeRawBufferPointer(start: nil, count: 0)))
            write(index + 1, &command)
        }
    }
    var command = RESPCommand("FUZZ")
    write(0, &command)
    let decoded = RESPStreamDecoder.decode([Array(writer.written)])
    let expected: [RESPValue] = [.array([.bulk("FUZZ")] + arguments.map { .bulkString($0) })]
    if decoded.values != expected || decoded.end != .complete {
        fail("the command \(expected) read back as \(decoded.values), \(decoded.end)")
    }
}

/// The byte payloads an element carries.
private func strings(of element: RESPElement) -> [UnsafeRawBufferPointer] {
    switch element {
    case .simpleString(let bytes), .error(let bytes), .double(let bytes), .bigNumber(let bytes), .bulkError(let bytes):
        [bytes]
    case .bulkString(let bytes?): [bytes]
    case .verbatimString(let format, let text): [format, text]
    default: []
    }
}

/// Whether `part` lies within `whole`'s memory.
private func contains(_ whole: UnsafeRawBufferPointer, _ part: UnsafeRawBufferPointer) -> Bool {
    guard let wholeStart = whole.baseAddress, let partStart = part.baseAddress else { return false }
    return partStart >= wholeStart && partStart + part.count <= wholeStart + whole.count
}

private func fail(_ message: String) -> Never {
    fputs("ringd resp fuzzer: broken promise: \(message)\n", stderr)
    abort()
}
