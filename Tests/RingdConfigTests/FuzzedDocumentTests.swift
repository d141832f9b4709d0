// Mutation tests: the files in conf/, the defaults as `--check` prints them and generated
// documents, broken at random at the byte level (bits flipped; quotes, brackets, escapes, new
// lines, NUL and bytes that are not UTF-8 put in; pieces cut, repeated or moved; the end cut
// off), with `--set` overrides broken the same way. Whatever comes out, the parser must answer
// with a configuration or an error at a place in the text (ParseInvariants), and never crash.
// Seeds and the number of inputs are fixed (20,000 in all), so a failure names the seed and
// input that caused it and comes back on every run. tools/fuzz/run.sh checks the same promises
// under libFuzzer, on inputs it makes up; what it found is kept at the end as regression tests.

import Foundation
import TestSupport
import Testing
import RingdConfig

@Suite struct FuzzedDocumentTests {
    /// Inputs tried per seed; four seeds make 20,000.
    static let inputsPerSeed = 5_000

    @Test(arguments: [21 as UInt64, 22, 23, 24])
    func mutatedDocumentsGetAConfigurationOrAnErrorInTheText(seed: UInt64) throws {
        let originals = try Self.originals(seed: seed)
        var random = SeededRandom(seed: seed &* 104_729)
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("ringd-fuzzed-\(seed)-\(UUID().uuidString).toml").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        var tally = Tally()
        for index in 0..<Self.inputsPerSeed {
            let document = mutatedBytes(Array(random.pick(originals).utf8), using: &random)
            let overrides = (0..<Int.random(in: 0...2, using: &random)).map { _ in
                String(decoding: mutatedBytes(Array(random.pick(Self.overrides).utf8), using: &random), as: UTF8.self)
            }
            var violations: [String] = []
            if String(validating: document, as: UTF8.self) == nil {
                violations = ParseInvariants.invalidUTF8Violations(document, scratchPath: scratch)
                tally.notUTF8 += 1
            }
            let check = ParseInvariants.check(document: String(decoding: document, as: UTF8.self), overrides: overrides)
            violations += check.violations
            if check.loaded { tally.loaded += 1 } else { tally.rejected += 1 }
            // An issue per broken input, rather than an expectation per input.
            if !violations.isEmpty {
                Issue.record("""
                    seed \(seed), input \(index): \(violations.joined(separator: "; "))
                    document: \(String(validating: document, as: UTF8.self)?.debugDescription ?? "not UTF-8, \(document)")
                    overrides: \(overrides.map(\.debugDescription))
                    """)
            }
        }
        // The edits must leave some documents whole, break most, and reach the UTF-8 check, or
        // this test checks less than it says.
        #expect(tally.loaded >= Self.inputsPerSeed / 50, "\(tally)")
        #expect(tally.rejected >= Self.inputsPerSeed / 2, "\(tally)")
        #expect(tally.notUTF8 >= Self.inputsPerSeed / 20, "\(tally)")
    }

    /// Inputs that once broke a promise, with the answer each must get.
    @Test(arguments: [
        // Found by tools/fuzz: a bare `--set` value that spans lines had its error put on the
        // first line, past its end, at the column it would have on one long line.
        (["greet.message=a\n{x}"],
         "--set greet.message=a\n{x}:2:1: greet.message = \"a\\n{x}\" is not a valid message:"
            + " unknown placeholder {x}; expected one of {peer}, {time}, {clients}"),
        (["counter.message=one\ntwo\n{count}{seq}"],
         "--set counter.message=one\ntwo\n{count}{seq}:3:8: counter.message = \"one\\ntwo\\n{count}{seq}\""
            + " is not a valid message: {seq} is not filled in this message;"
            + " expected one of {count}, {peer}, {time}, {clients}"),
    ])
    func foundByFuzzing(overrides: [String], expected: String) {
        #expect(configurationError("", overrides: overrides) == expected)
        #expect(ParseInvariants.violations(document: "", overrides: overrides).isEmpty)
    }

    // MARK: Inputs

    /// The documents the edits start from: every file in conf/, the defaults as `--check` prints
    /// them, and generated documents (valid TOML-lite, mostly with keys outside the schema).
    private static func originals(seed: UInt64) throws -> [String] {
        var generator = DocumentGenerator(seed: seed)
        let files = try confFiles().map { try String(contentsOf: $0, encoding: .utf8) }
        return files + [Configuration.defaults.rendered()] + (0..<40).map { _ in generator.document().text }
    }

    /// Overrides the edits start from: one of each kind of key and value.
    private static let overrides = [
        "server.mode=greet", "server.listen=[::1]:7001", "server.listen=[\"127.0.0.1:0\", \"[::1]:0\"]",
        "server.workers=6", "server.workers=auto", "server.pin_workers=false", "server.backlog=1_024",
        "server.max_connections=0x10", "server.log_level=trace", "io.submission_entries=1024",
        "io.completion_entries=8192", "io.buffer_size=8KiB", "io.output_limit=\"2MiB\"",
        "echo.lines=true", "echo.max_line=1KiB", "greet.message=hello {peer}", "counter.message=\"{count}\\n\"",
        "broadcast.interval=250ms", "broadcast.message='{seq} {time}'", "relay.max_line=100",
        "access.allow=127.0.0.0/8", "access.deny=[\"127.0.0.2\", \"::/0\"]",
    ]

    /// What the edits put in: TOML's punctuation, escapes, line ends, control characters, and
    /// byte sequences that are not UTF-8 (a lone continuation byte, a lead byte without its
    /// continuation, an encoded surrogate, an overlong encoding, a code point past U+10FFFF).
    private static let insertions: [[UInt8]] = [
        "\"", "'", "[", "]", "[[", "{", "}", "{{", "=", "#", ",", ".", ":", "_", "-", "+", "\\", "\\u", "\\U",
        "\\u00", "\\uD800", "\"\"\"", "'''", "\n", "\r", "\r\n", "\t", " ", "\u{0}", "\u{7F}", "\u{FEFF}", "é", "😀",
        "0x", "0b", "1e3", "1.5", "99999999999999999999", "true", "inf", "KiB", "ms", "{peer}", "{bogus}",
        "\n[server]\n", "\nmode = \"relay\"\n", "\n--set ",
    ].map { Array($0.utf8) } + [[0x80], [0xC3], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF4, 0x90, 0x80, 0x80], [0xFF]]

    /// `bytes` with one to four edits.
    private func mutatedBytes(_ bytes: [UInt8], using random: inout SeededRandom) -> [UInt8] {
        var bytes = bytes
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let position = Int.random(in: 0...bytes.count, using: &random)
            let end = min(bytes.count, position + Int.random(in: 1...40, using: &random))
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<10 where position < bytes.count:
                // Mostly below bit 7, so that most flips leave the text UTF-8.
                let bit = random.chance(85) ? Int.random(in: 0...6, using: &random) : 7
                bytes[position] ^= 1 << bit
            case 0..<45:
                bytes.insert(contentsOf: random.pick(Self.insertions), at: position)
            case 45..<55 where position < bytes.count:
                bytes.replaceSubrange(position..<(position + 1), with: random.pick(Self.insertions))
            case 55..<70:
                bytes.removeSubrange(position..<end)
            case 70..<80:
                let piece = bytes[position..<end]
                bytes.insert(contentsOf: piece, at: Int.random(in: 0...bytes.count, using: &random))
            case 80..<88:
                bytes.removeSubrange(position...)
            default:
                bytes = duplicatingOrDroppingLine(bytes, using: &random)
            }
        }
        return bytes
    }

    private func duplicatingOrDroppingLine(_ bytes: [UInt8], using random: inout SeededRandom) -> [UInt8] {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let line = Int.random(in: 0..<lines.count, using: &random)
        if random.chance(50) { lines.insert(lines[line], at: line) } else { lines.remove(at: line) }
        return Array(lines.joined(separator: [UInt8(ascii: "\n")]))
    }
}

/// How the inputs of one seed came out; a document that is not UTF-8 also counts as loaded or
/// rejected, read with replacement characters.
private struct Tally: CustomStringConvertible {
    var loaded = 0
    var rejected = 0
    var notUTF8 = 0

    var description: String { "\(loaded) loaded, \(rejected) rejected, \(notUTF8) not UTF-8" }
}
