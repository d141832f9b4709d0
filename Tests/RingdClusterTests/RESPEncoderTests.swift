// RESPCommand: commands on the wire byte for byte, whole or not at all in a writer too small,
// pipelined one after another, and read back by the decoder as the arrays of bulk strings they are.

import RingdCluster
import RingdServices
import TestSupport
import Testing

/// Writes `commands` one after another into `capacity` bytes and returns what was written and
/// the range of each (nil for one that did not fit).
private func written(_ commands: [RESPCommand], capacity: Int = 4096) -> (bytes: [UInt8], ranges: [Range<Int>?]) {
    withUnsafeTemporaryAllocation(byteCount: capacity, alignment: 8) { storage in
        var writer = ByteWriter(storage)
        let ranges = commands.map { $0.write(into: &writer) }
        return (Array(writer.written), ranges)
    }
}

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

@Suite struct RESPEncoderTests {
    @Test func aCommandIsAnArrayOfBulkStrings() {
        #expect(text(written([RESPCommand("PING")]).bytes) == "*1\r\n$4\r\nPING\r\n")
        let key = Array("ringd:name:".utf8)
        let name = Array("alice".utf8)
        let node = Array("host-1:4242".utf8)
        key.withUnsafeBytes { key in
            name.withUnsafeBytes { name in
                node.withUnsafeBytes { node in
                    var claim = RESPCommand("SET")
                    claim.append(.joined(key, name))
                    claim.append(.bytes(node))
                    claim.append("NX")
                    claim.append("PX")
                    claim.append(.integer(30_000))
                    #expect(claim.count == 6)
                    let wire =
                        "*6\r\n$3\r\nSET\r\n$16\r\nringd:name:alice\r\n$11\r\nhost-1:4242\r\n$2\r\nNX\r\n$2\r\nPX\r\n$5\r\n30000\r\n"
                    #expect(text(written([claim]).bytes) == wire)
                    #expect(claim.encodedCount == wire.utf8.count)
                }
            }
        }
    }

    @Test func integersEmptyAndBinaryArgumentsKeepTheirBytes() {
        let binary: [UInt8] = [0, 13, 10, 255, 36, 42]
        binary.withUnsafeBytes { binary in
            var command = RESPCommand("INCRBY")
            command.append(.bytes(UnsafeRawBufferPointer(start: nil, count: 0)))
            command.append(.integer(-9_223_372_036_854_775_808))
            command.append(.integer(0))
            command.append(.bytes(binary))
            let wire = written([command]).bytes
            #expect(wire.count == command.encodedCount)
            let decoded = RESPStreamDecoder.decode([wire])
            #expect(decoded.end == .complete)
            #expect(
                decoded.values == [
                    .array([
                        .bulk("INCRBY"), .bulk(""), .bulk("-9223372036854775808"), .bulk("0"),
                        .bulkString([0, 13, 10, 255, 36, 42]),
                    ])
                ])
        }
    }

    @Test func pipelinedCommandsDecodeInOrder() {
        var subscribe = RESPCommand("SUBSCRIBE")
        subscribe.append("ringd:relay")
        var incr = RESPCommand("INCR")
        incr.append("ringd:counter")
        let (wire, ranges) = written([subscribe, RESPCommand("PING"), incr])
        #expect(ranges == [0..<37, 37..<51, 51..<(51 + incr.encodedCount)])
        #expect(
            RESPStreamDecoder.decode([wire]).values == [
                .array([.bulk("SUBSCRIBE"), .bulk("ringd:relay")]), .array([.bulk("PING")]),
                .array([.bulk("INCR"), .bulk("ringd:counter")]),
            ])
    }

    @Test func aCommandThatDoesNotFitWritesNothing() {
        var publish = RESPCommand("PUBLISH")
        publish.append("ringd:relay")
        publish.append("a line that will not fit")
        let exact = publish.encodedCount
        #expect(written([publish], capacity: exact).ranges == [0..<exact])
        let short = written([RESPCommand("PING"), publish, RESPCommand("PING")], capacity: exact + 13)
        // The writer keeps what fit before and refuses everything after, as ByteWriter promises.
        #expect(short.ranges == [0..<14, nil, nil])
        #expect(text(short.bytes) == "*1\r\n$4\r\nPING\r\n")
    }

    @Test func tenArgumentsFit() {
        var command = RESPCommand("MSET")
        for value in 1...9 { command.append(.integer(Int64(value))) }
        #expect(command.count == RESPCommand.maximumArgumentCount)
        let values = RESPStreamDecoder.decode([written([command]).bytes]).values
        #expect(values == [.array([.bulk("MSET")] + (1...9).map { .bulk(String($0)) })])
    }
}
