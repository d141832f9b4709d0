// Random TOML-lite documents for property tests: random keys, tables and values of every kind,
// written with random but valid formatting (whitespace, comments, escapes, arrays over lines,
// trailing commas, CRLF), together with the JSON they must load to.

import RingdConfig
import TestSupport

struct GeneratedDocument {
    var text: String
    /// What `json.dumps(tomllib.loads(text), sort_keys=True)` must print.
    var expectedJSON: String
}

struct DocumentGenerator {
    var random: SeededRandom
    private var newline = "\n"

    init(seed: UInt64) {
        random = SeededRandom(seed: seed)
    }

    mutating func document() -> GeneratedDocument {
        newline = random.chance(20) ? "\r\n" : "\n"
        var text = ""
        var members: [(String, String)] = []
        var usedNames: Set<String> = []

        let topLevel = entries(count: Int.random(in: 0...3, using: &random), avoiding: &usedNames)
        for entry in topLevel {
            text += trivia() + entry.text + endOfLine()
            members.append((entry.key, entry.value.canonicalJSON))
        }
        for _ in 0..<Int.random(in: 0...4, using: &random) {
            let name = freshKey(avoiding: &usedNames)
            text += trivia() + indentation() + "[" + spaces() + name + spaces() + "]" + endOfLine()
            var tableNames: Set<String> = []
            let tableEntries = entries(count: Int.random(in: 0...4, using: &random), avoiding: &tableNames)
            for entry in tableEntries {
                text += trivia() + entry.text + endOfLine()
            }
            members.append((name, objectJSON(tableEntries.map { ($0.key, $0.value.canonicalJSON) })))
        }
        if random.chance(30), text.hasSuffix(newline) { text.removeLast(newline == "\n" ? 1 : 1) }
        return GeneratedDocument(text: text, expectedJSON: objectJSON(members))
    }

    private mutating func entries(count: Int, avoiding names: inout Set<String>) -> [(key: String, value: TOMLValue, text: String)] {
        (0..<count).map { _ in
            let key = freshKey(avoiding: &names)
            let (value, valueText) = self.value(depth: 0)
            return (key, value, indentation() + key + spaces() + "=" + spaces() + valueText)
        }
    }

    // MARK: Values

    private mutating func value(depth: Int) -> (TOMLValue, String) {
        switch Int.random(in: 0..<100, using: &random) {
        case 0..<35: return integer()
        case 35..<70: return string()
        case 70..<82: return boolean()
        default: return depth < 3 ? array(depth: depth) : integer()
        }
    }

    private mutating func boolean() -> (TOMLValue, String) {
        let flag = random.chance(50)
        return (.boolean(flag), flag ? "true" : "false")
    }

    private mutating func integer() -> (TOMLValue, String) {
        let number: Int
        switch Int.random(in: 0..<10, using: &random) {
        case 0: number = random.pick([Int.min, Int.max, 0, -1, 1])
        case 1...4: number = Int.random(in: 0...9, using: &random)
        case 5...7: number = Int.random(in: -100_000...100_000, using: &random)
        default: number = Int.random(in: Int.min...Int.max, using: &random)
        }
        if number >= 0, random.chance(30) {
            let (prefix, radix) = random.pick([("0x", 16), ("0o", 8), ("0b", 2)])
            var digits = String(number, radix: radix, uppercase: random.chance(50))
            digits = String(repeating: "0", count: Int.random(in: 0...2, using: &random)) + digits
            return (.integer(number), prefix + withUnderscores(digits))
        }
        var text = withUnderscores(String(number.magnitude))
        if number < 0 { text = "-" + text } else if random.chance(20) { text = "+" + text }
        return (.integer(number), text)
    }

    /// `digits` with single underscores put between some of them.
    private mutating func withUnderscores(_ digits: String) -> String {
        guard random.chance(30) else { return digits }
        var result = ""
        for (offset, digit) in digits.enumerated() {
            if offset > 0, random.chance(25) { result += "_" }
            result.append(digit)
        }
        return result
    }

    private static let stringScalars: [Unicode.Scalar] = Array("abcXYZ019 _-=#[],.:{}+".unicodeScalars)
        + ["\"", "\\", "'", "\t", "\n", "\r", "\u{0}", "\u{1}", "\u{8}", "\u{C}", "\u{1F}", "\u{7F}",
           "é", "ß", "漢", "😀", "\u{FEFF}", "\u{2028}", "\u{10FFFF}", "\u{E000}"]

    private mutating func string() -> (TOMLValue, String) {
        var scalars = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 0...8, using: &random) {
            scalars.append(random.pick(Self.stringScalars))
        }
        let text = String(scalars)
        let literalSafe = text.unicodeScalars.allSatisfy { $0 != "'" && ($0 == "\t" || !($0.value < 0x20 || $0.value == 0x7F)) }
        if literalSafe, random.chance(40) {
            return (.string(text), "'" + text + "'")
        }
        var written = "\""
        for scalar in text.unicodeScalars {
            written += escapedInBasicString(scalar)
        }
        return (.string(text), written + "\"")
    }

    private mutating func escapedInBasicString(_ scalar: Unicode.Scalar) -> String {
        let short: [Unicode.Scalar: String] = [
            "\"": "\\\"", "\\": "\\\\", "\u{8}": "\\b", "\t": "\\t", "\n": "\\n", "\u{C}": "\\f", "\r": "\\r",
        ]
        let mustEscape = scalar == "\"" || scalar == "\\" || (scalar.value < 0x20 && scalar != "\t") || scalar.value == 0x7F
        if !mustEscape, !random.chance(15) { return String(scalar) }
        if let escape = short[scalar], random.chance(60) { return escape }
        if scalar.value <= 0xFFFF, random.chance(70) {
            return "\\u" + hex(scalar.value, width: 4)
        }
        return "\\U" + hex(scalar.value, width: 8)
    }

    private mutating func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: random.chance(50))
        return String(repeating: "0", count: width - digits.count) + digits
    }

    /// Elements of one kind (inner arrays may differ), with random whitespace, new lines,
    /// comments and a trailing comma.
    private mutating func array(depth: Int) -> (TOMLValue, String) {
        let count = Int.random(in: 0...4, using: &random)
        let kind = Int.random(in: 0..<4, using: &random)
        var values: [TOMLValue] = []
        var texts: [String] = []
        for _ in 0..<count {
            let (value, text): (TOMLValue, String)
            switch kind {
            case 0: (value, text) = integer()
            case 1: (value, text) = string()
            case 2: (value, text) = boolean()
            default: (value, text) = depth < 2 ? array(depth: depth + 1) : ((.array([])), "[]")
            }
            values.append(value)
            texts.append(text)
        }
        var written = "[" + arrayTrivia()
        for (index, text) in texts.enumerated() {
            written += text + arrayTrivia()
            if index < texts.count - 1 || random.chance(30) { written += "," + arrayTrivia() }
        }
        return (.array(values), written + "]")
    }

    // MARK: Layout

    private mutating func freshKey(avoiding names: inout Set<String>) -> String {
        let alphabet = Array("abcdxyzABZ0189_-")
        while true {
            let key = String((0..<Int.random(in: 1...5, using: &random)).map { _ in random.pick(alphabet) })
            if names.insert(key).inserted { return key }
        }
    }

    private mutating func spaces() -> String {
        random.pick(["", " ", " ", "  ", "\t", " \t "])
    }

    private mutating func indentation() -> String {
        random.chance(80) ? "" : spaces()
    }

    private mutating func comment() -> String {
        random.pick(["#", "# a comment", "#  ünïcödé 漢字 😀", "# [not] a = \"table\"", "#\tx ' \" \\"])
    }

    /// Blank lines and comment lines before a statement.
    private mutating func trivia() -> String {
        var text = ""
        while random.chance(25) {
            text += random.chance(50) ? spaces() + newline : spaces() + comment() + newline
        }
        return text
    }

    private mutating func endOfLine() -> String {
        spaces() + (random.chance(25) ? comment() : "") + newline
    }

    /// What may sit between the tokens of an array.
    private mutating func arrayTrivia() -> String {
        switch Int.random(in: 0..<10, using: &random) {
        case 0..<5: spaces()
        case 5..<8: spaces() + newline + spaces()
        default: spaces() + comment() + newline + spaces()
        }
    }
}

/// A JSON object as Python's `json.dumps(sort_keys=True)` writes it; `members` hold JSON values
/// and bare keys, which need no escaping.
func objectJSON(_ members: [(String, String)]) -> String {
    let sorted = members.sorted { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }
    return "{" + sorted.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
}

/// `text` with a few random edits: scalars deleted, inserted or replaced, lines duplicated or
/// dropped. Most results are invalid; some are valid in surprising ways.
func mutated(_ text: String, using random: inout SeededRandom) -> String {
    let interesting: [Unicode.Scalar] = Array("\"'\\[]=#,._01xe:-+ \t\n{}aZ".unicodeScalars) + ["\r", "\u{0}", "\u{7F}", "é"]
    var scalars = Array(text.unicodeScalars)
    for _ in 0..<Int.random(in: 1...3, using: &random) {
        let position = Int.random(in: 0...scalars.count, using: &random)
        switch Int.random(in: 0..<5, using: &random) {
        case 0 where position < scalars.count:
            scalars.remove(at: position)
        case 1:
            scalars.insert(random.pick(interesting), at: position)
        case 2 where position < scalars.count:
            scalars[position] = random.pick(interesting)
        case 3, 4:
            var lines = String(String.UnicodeScalarView(scalars)).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let line = Int.random(in: 0..<lines.count, using: &random)
            if random.chance(50) { lines.insert(lines[line], at: line) } else { lines.remove(at: line) }
            scalars = Array(lines.joined(separator: "\n").unicodeScalars)
        default:
            scalars.insert(random.pick(interesting), at: position)
        }
    }
    return String(String.UnicodeScalarView(scalars))
}
