// Random RESP, seeded so that a failure replays (RINGD_E2E_SEED): random values come back as
// themselves whatever the read boundaries, and random damage to their bytes (a byte changed,
// dropped or doubled) is judged the same by the decoder and by the recursive reference, values,
// error kind and offset alike.

import RingdCluster
import TestSupport
import Testing

/// Random values of every type, nested up to `depth`, with strings that hold CR and LF where
/// RESP allows them (bulk payloads) and not where it does not (lines).
struct RESPValueGenerator {
    var random: SeededRandom

    mutating func value(depth: Int) -> RESPValue {
        let kinds = depth > 0 ? 14 : 10
        switch Int.random(in: 0..<kinds, using: &random) {
        case 0: return .simpleString(line())
        case 1: return .error(line())
        case 2:
            return .integer(random.chance(50) ? Int64.random(in: -1000...1000, using: &random) : Int64(bitPattern: random.next()))
        case 3: return .bulkString(random.chance(10) ? nil : payload())
        case 4: return .null
        case 5: return .boolean(random.chance(50))
        case 6: return .double(line())
        case 7: return .bigNumber(line())
        case 8: return .bulkError(payload())
        case 9: return .verbatimString(format: Array("txt".utf8), text: payload())
        case 10: return random.chance(10) ? .array(nil) : .array(values(depth: depth - 1))
        case 11: return .map(values(depth: depth - 1, pairs: true))
        case 12: return .set(values(depth: depth - 1))
        default: return .push(values(depth: depth - 1))
        }
    }

    mutating func values(depth: Int, pairs: Bool = false) -> [RESPValue] {
        let count = Int.random(in: 0...4, using: &random) * (pairs ? 2 : 1)
        return (0..<count).map { _ in value(depth: depth) }
    }

    private mutating func line() -> [UInt8] {
        (0..<random.logUniform(in: 1...40)).map { _ in random.pick(Array("abc -:$*0123456789".utf8)) }.dropLast(1)
            .map { $0 }
    }

    private mutating func payload() -> [UInt8] {
        (0..<random.logUniform(in: 1...300)).map { _ in random.pick([13, 10, 0, 255] + Array("xyz$*:+\r\n".utf8)) }.dropLast(1)
            .map { $0 }
    }

    /// `stream` cut into reads of random lengths, some empty.
    mutating func reads(of stream: [UInt8]) -> [[UInt8]] {
        var reads: [[UInt8]] = []
        var start = 0
        while start < stream.count {
            let length = min(stream.count - start, random.chance(10) ? 0 : random.logUniform(in: 1...64))
            reads.append(Array(stream[start..<(start + length)]))
            start += length
        }
        return reads
    }
}

@Suite struct RESPPropertyTests {
    @Test(arguments: [1 as UInt64, 2, 3])
    func randomValuesComeBackWhateverTheReads(seed: UInt64) {
        var generator = RESPValueGenerator(random: SeededRandom(seed: testSeed(default: seed)))
        for round in 0..<200 {
            let values = generator.values(depth: 3)
            let stream = values.flatMap(\.encoded)
            let decoded = RESPStreamDecoder.decode(generator.reads(of: stream))
            #expect(decoded.values == values, "seed \(seed) round \(round)")
            #expect(decoded.end == .complete, "seed \(seed) round \(round)")
        }
    }

    @Test(arguments: [11 as UInt64, 12, 13])
    func damagedStreamsAreJudgedAsTheReferenceJudgesThem(seed: UInt64) {
        var generator = RESPValueGenerator(random: SeededRandom(seed: testSeed(default: seed)))
        var ends: [String: Int] = [:]
        for round in 0..<400 {
            var stream = generator.values(depth: 3).flatMap(\.encoded)
            for _ in 0..<Int.random(in: 1...3, using: &generator.random) where !stream.isEmpty {
                let at = Int.random(in: 0..<stream.count, using: &generator.random)
                switch Int.random(in: 0..<3, using: &generator.random) {
                case 0: stream[at] = generator.random.pick(Array("\r\n-+:$*%~>_#0123456789|?".utf8))
                case 1: stream.remove(at: at)
                default: stream.insert(stream[at], at: at)
                }
            }
            let limits = RESPLimits(
                maximumBulkLength: generator.random.pick([0, 50, 1 << 20]),
                maximumAggregateCount: generator.random.pick([2, 100]),
                maximumDepth: generator.random.pick([1, 2, 8]), maximumLineLength: generator.random.pick([5, 64 << 10]))
            let reference = RESPReference.decode(stream, limits: limits)
            let decoded = RESPStreamDecoder.decode(generator.reads(of: stream), limits: limits)
            #expect(decoded.values == reference.values, "seed \(seed) round \(round): \(stream)")
            #expect(decoded.end == reference.end, "seed \(seed) round \(round): \(stream)")
            let kind: String =
                switch reference.end {
                case .complete: "complete"
                case .incomplete: "incomplete"
                case .failed(let error): "\(error.kind)".prefix { $0 != "(" }.description
                }
            ends[kind, default: 0] += 1
        }
        // Damage must give all three outcomes, and several kinds of error, or this checks little.
        #expect(ends["complete", default: 0] >= 10 && ends["incomplete", default: 0] >= 5, "\(ends)")
        #expect(ends.count >= 8, "\(ends)")
    }
}
