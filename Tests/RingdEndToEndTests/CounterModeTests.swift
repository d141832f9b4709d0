// counter mode, the second Tcl socket exercise: "report how many connections have been made
// before closing the channel". Each client gets `{count} connections before you\n` and a clean
// end of stream. The count is one for the whole server, across both workers, and starts at 0:
// however connections race, the values handed out are exactly 0, 1, 2, ... with no value twice
// and none skipped.
import TestSupport
import Testing

@Suite("counter mode")
struct CounterModeTests {
    static let arguments = ["--mode", "counter", "--workers", "2"]

    @Test("one connection after another: 0, 1, 2, ... connections before you")
    func sequentialConnectionsCountUp() throws {
        let ringd = try RunningRingd(extraArguments: Self.arguments)
        defer { ringd.stop() }

        for expected in 0..<20 {
            let connection = try LineConnection(connectingTo: ringd.endpoint)
            let (bytes, end) = try connection.readToEnd(within: .seconds(10))
            #expect(bytes == Array("\(expected) connections before you\n".utf8), "got \(quoted(bytes))")
            #expect(end == .endOfStream)
        }
    }

    static let waveCount = 10
    static let connectionsPerWave = 200

    @Test("2,000 connections in waves of 200 open at once: the counts are exactly 0..<2000")
    func concurrentConnectionsGetEveryCountOnce() throws {
        let ringd = try RunningRingd(extraArguments: Self.arguments)
        defer { ringd.stop() }

        var counts: [Int] = []
        var problems: [String] = []
        for wave in 0..<Self.waveCount {
            // Every socket of the wave is connected before any is read, so the two workers accept
            // them concurrently; at most 200 descriptors are open at a time.
            let connections = try (0..<Self.connectionsPerWave).map { _ in
                try LineConnection(connectingTo: ringd.endpoint)
            }
            let allEnded = try LineConnection.pump(connections, within: .seconds(20)) {
                connections.allSatisfy(\.hasEnded)
            }
            if !allEnded {
                problems.append("wave \(wave): \(connections.filter { !$0.hasEnded }.count) connections still open")
            }
            for connection in connections {
                let bytes = connection.takeAll()
                if let count = Self.count(in: bytes), connection.end == .endOfStream {
                    counts.append(count)
                } else {
                    problems.append(
                        "wave \(wave): got \(quoted(bytes)) then \(connection.end.map(String.init(describing:)) ?? "nothing")")
                }
                connection.socket.close()
            }
        }

        let failedConnections = problems.count
        #expect(failedConnections == 0, "\(problems.prefix(10).joined(separator: "\n"))\n\(ringd.child.standardError)")
        let total = Self.waveCount * Self.connectionsPerWave
        var seen = [Int](repeating: 0, count: total)
        var outOfRange: [Int] = []
        for count in counts {
            if (0..<total).contains(count) { seen[count] += 1 } else { outOfRange.append(count) }
        }
        let duplicates = seen.indices.filter { seen[$0] > 1 }
        let missing = seen.indices.filter { seen[$0] == 0 }
        #expect(counts.count == total)
        #expect(outOfRange.isEmpty, "counts outside 0..<\(total): \(outOfRange.prefix(20))")
        #expect(duplicates.isEmpty, "counts handed out twice: \(duplicates.prefix(20))")
        #expect(missing.isEmpty, "counts never handed out: \(missing.prefix(20))")
    }

    @Test("a custom counter.message: {count} and literal text")
    func customMessage() throws {
        let ringd = try RunningRingd(
            extraArguments: Self.arguments + ["--set", #"counter.message="you are visitor #{count}\r\n""#])
        defer { ringd.stop() }

        for expected in 0..<3 {
            let connection = try LineConnection(connectingTo: ringd.endpoint)
            let (bytes, end) = try connection.readToEnd(within: .seconds(10))
            #expect(bytes == Array("you are visitor #\(expected)\r\n".utf8), "got \(quoted(bytes))")
            #expect(end == .endOfStream)
        }
    }

    /// The N of exactly `N connections before you\n`, or nil for anything else.
    static func count(in bytes: [UInt8]) -> Int? {
        let text = String(decoding: bytes, as: UTF8.self)
        let suffix = " connections before you\n"
        guard text.hasSuffix(suffix) else { return nil }
        return decimal(text.dropLast(suffix.count))
    }
}
