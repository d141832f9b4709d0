// Reproducible randomness for payloads, sizes and write splits: a failing run can be replayed with
// the seed it prints.
import Foundation

/// SplitMix64: small, fast, and good enough to make test data that no server could echo by luck.
package struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    package init(seed: UInt64) {
        state = seed
    }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// A size drawn so that every order of magnitude in `range` is equally likely.
    package mutating func logUniform(in range: ClosedRange<Int>) -> Int {
        let low = log(Double(range.lowerBound))
        let high = log(Double(range.upperBound) + 1)
        let drawn = Int(exp(Double.random(in: low..<high, using: &self)))
        return min(max(drawn, range.lowerBound), range.upperBound)
    }

    /// True with probability `percent` / 100.
    package mutating func chance(_ percent: Int) -> Bool {
        Int.random(in: 0..<100, using: &self) < percent
    }

    package mutating func pick<T>(_ choices: [T]) -> T {
        choices.randomElement(using: &self)!
    }

    /// `count` random bytes.
    package mutating func bytes(count: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                var word = next()
                let length = min(8, buffer.count - offset)
                withUnsafeBytes(of: &word) { wordBytes in
                    buffer.baseAddress!.advanced(by: offset).copyMemory(from: wordBytes.baseAddress!, byteCount: length)
                }
                offset += length
            }
        }
        return result
    }
}

/// The seed for a test's random data: `RINGD_E2E_SEED` when set, to replay a failure, else `fixed`.
package func testSeed(default fixed: UInt64) -> UInt64 {
    if let text = ProcessInfo.processInfo.environment["RINGD_E2E_SEED"], let seed = UInt64(text) {
        return seed
    }
    return fixed
}
