// TOML-lite: the strict subset of TOML 1.0 that ringd's configuration is written in.
//
// What is in the subset: `#` comments; `[table]` headers with a bare name (one level); `key = value`
// with bare keys; values that are basic strings "..." (escapes \" \\ \b \t \n \f \r \uXXXX
// \UXXXXXXXX), literal strings '...', 64-bit integers (decimal with optional sign and `_` between
// digits, or 0x / 0o / 0b), booleans, and arrays whose elements all have one kind (they may span
// lines and hold comments, and may end with a comma).
//
// Everything else in TOML (floats, dates and times, inline tables, dotted and quoted keys,
// multi-line strings, arrays of tables, mixed-type arrays) is rejected with "... is not supported by
// TOML-lite" at its position. Whatever this parser accepts means the same to a full TOML parser:
// the tests check that against Python's `tomllib`. The one other difference: `tomllib` accepts
// integers beyond 64 bits, which TOML says must be an error, and so does this parser.

/// The TOML-lite parser.
public enum TOMLLite {
    /// Parses `text`; `file` names the source in errors.
    public static func parse(_ text: String, file: String) throws(ConfigurationError) -> TOMLDocument {
        var parser = TOMLLiteParser(text: text, file: file)
        return try parser.parseDocument()
    }
}

/// A recursive-descent parser over the Unicode scalars of one source. Positions are indices into
/// `scalars`; they become a line and column only when something needs to be reported.
struct TOMLLiteParser {
    private let scalars: [Unicode.Scalar]
    /// The index of the first scalar of each line.
    private let lineStarts: [Int]
    private let file: String
    /// How messages name the end of the input: "the end of the file".
    private let endOfInput: String
    /// The scalar being looked at.
    private(set) var index = 0

    init(text: String, file: String, endOfInput: String = "the end of the file") {
        // CRLF counts as LF, as TOML allows and as tomllib does before parsing; a lone CR stays
        // and is rejected wherever it appears.
        var scalars: [Unicode.Scalar] = []
        var lineStarts = [0]
        for scalar in text.unicodeScalars {
            if scalar == "\n" {
                if scalars.last == "\r" { scalars.removeLast() }
                lineStarts.append(scalars.count + 1)
            }
            scalars.append(scalar)
        }
        self.scalars = scalars
        self.lineStarts = lineStarts
        self.file = file
        self.endOfInput = endOfInput
    }

    // MARK: Document structure

    mutating func parseDocument() throws(ConfigurationError) -> TOMLDocument {
        var document = TOMLDocument(
            topLevel: TOMLTable(name: "", headerLocation: location(at: 0), entries: []),
            tables: []
        )
        while true {
            skipWhitespace()
            guard let scalar = current else { return document }
            switch scalar {
            case "\n":
                index += 1
                continue
            case "#":
                break  // finishLine skips it
            case "[":
                try parseHeader(into: &document)
            case _ where scalar.isBareKeyCharacter:
                try add(parseEntry(), to: &document)
            case "\"", "'":
                throw failure("quoted keys are not supported by TOML-lite")
            default:
                throw failure("expected a key, a [table] header or a comment, found \(describe(scalar))")
            }
            try finishLine()
        }
    }

    /// `[name]`: starts a table that the entries below it belong to.
    private mutating func parseHeader(into document: inout TOMLDocument) throws(ConfigurationError) {
        let start = index
        index += 1
        if current == "[" { throw failure("arrays of tables are not supported by TOML-lite", at: start) }
        skipWhitespace()
        let name = try parseBareKey(expecting: "a table name")
        skipWhitespace()
        if current == "." { throw failure("dotted keys are not supported by TOML-lite") }
        guard current == "]" else {
            throw failure("expected ']' after the table name '\(name)', found \(describe(current))")
        }
        index += 1
        if let earlier = document[name] {
            throw failure(
                "duplicate table [\(name)] (first defined at \(earlier.headerLocation.lineAndColumn))", at: start)
        }
        if let entry = document.topLevel[name] {
            throw failure(
                "table [\(name)] conflicts with the key '\(name)' set at \(entry.keyLocation.lineAndColumn)",
                at: start)
        }
        document.tables.append(TOMLTable(name: name, headerLocation: location(at: start), entries: []))
    }

    /// `key = value`
    private mutating func parseEntry() throws(ConfigurationError) -> TOMLEntry {
        let keyStart = index
        let key = try parseBareKey(expecting: "a key")
        skipWhitespace()
        if current == "." { throw failure("dotted keys are not supported by TOML-lite") }
        guard current == "=" else { throw failure("expected '=' after the key '\(key)', found \(describe(current))") }
        index += 1
        skipWhitespace()
        let valueStart = index
        let (value, elementStarts) = try parseValue()
        return TOMLEntry(
            key: key, value: value,
            keyLocation: location(at: keyStart), valueLocation: location(at: valueStart),
            elementLocations: elementStarts.map(location(at:))
        )
    }

    /// Adds `entry` to the table being written, which must not have that key yet.
    private func add(_ entry: TOMLEntry, to document: inout TOMLDocument) throws(ConfigurationError) {
        let isTopLevel = document.tables.isEmpty
        let table = isTopLevel ? document.topLevel : document.tables[document.tables.count - 1]
        if let earlier = table[entry.key] {
            let place = isTopLevel ? "at the top level" : "in [\(table.name)]"
            throw ConfigurationError(
                at: entry.keyLocation,
                "duplicate key '\(entry.key)' \(place) (first set at \(earlier.keyLocation.lineAndColumn))")
        }
        if isTopLevel {
            document.topLevel.entries.append(entry)
        } else {
            document.tables[document.tables.count - 1].entries.append(entry)
        }
    }

    /// After a statement only whitespace and a comment may follow on its line.
    private mutating func finishLine() throws(ConfigurationError) {
        skipWhitespace()
        if current == "#" { try skipComment() }
        switch current {
        case nil: return
        case "\n": index += 1
        default: throw failure("expected a comment or a new line, found \(describe(current))")
        }
    }

    mutating func parseBareKey(expecting what: String) throws(ConfigurationError) -> String {
        if current == "\"" || current == "'" { throw failure("quoted keys are not supported by TOML-lite") }
        let start = index
        while let scalar = current, scalar.isBareKeyCharacter { index += 1 }
        guard index > start else { throw failure("expected \(what), found \(describe(current))") }
        return text(start..<index)
    }

    // MARK: Values

    /// Parses the value at `index`; returns it with the start index of each element of an array.
    mutating func parseValue() throws(ConfigurationError) -> (TOMLValue, elementStarts: [Int]) {
        guard let scalar = current else { throw failure("expected a value, found \(describe(current))") }
        switch scalar {
        case "\"":
            if peek(1) == "\"" && peek(2) == "\"" { throw failure("multi-line strings are not supported by TOML-lite") }
            return (.string(try parseBasicString()), [])
        case "'":
            if peek(1) == "'" && peek(2) == "'" { throw failure("multi-line strings are not supported by TOML-lite") }
            return (.string(try parseLiteralString()), [])
        case "[":
            return try parseArray()
        case "{":
            throw failure("inline tables are not supported by TOML-lite")
        case "+", "-", "0"..."9":
            return (try parseNumber(), [])
        case "a"..."z", "A"..."Z":
            return (try parseWord(), [])
        default:
            throw failure("expected a value, found \(describe(scalar))")
        }
    }

    /// `"..."` with escapes.
    private mutating func parseBasicString() throws(ConfigurationError) -> String {
        let open = location(at: index)
        index += 1
        var text = String.UnicodeScalarView()
        while true {
            guard let scalar = current, scalar != "\n" else {
                throw failure(
                    "unterminated string (opened at \(open.lineAndColumn)): expected '\"' before \(describe(current))")
            }
            switch scalar {
            case "\"":
                index += 1
                return String(text)
            case "\\":
                text.append(try parseEscape())
            case _ where scalar.isForbiddenControl:
                throw failure("control character \(scalar.codePoint) must be written as an escape in a string")
            default:
                text.append(scalar)
                index += 1
            }
        }
    }

    /// One escape sequence in a basic string, starting at its backslash.
    private mutating func parseEscape() throws(ConfigurationError) -> Unicode.Scalar {
        let start = index
        index += 1
        guard let code = current, code != "\n" else {
            throw failure("invalid escape: '\\' followed by \(describe(current))", at: start)
        }
        index += 1
        switch code {
        case "b": return "\u{08}"
        case "t": return "\t"
        case "n": return "\n"
        case "f": return "\u{0C}"
        case "r": return "\r"
        case "\"": return "\""
        case "\\": return "\\"
        case "u": return try parseHexEscape(digitCount: 4, start: start)
        case "U": return try parseHexEscape(digitCount: 8, start: start)
        default:
            throw failure(
                "invalid escape '\\\(code)' (valid escapes are \\\" \\\\ \\b \\f \\n \\r \\t \\uXXXX \\UXXXXXXXX)",
                at: start)
        }
    }

    private mutating func parseHexEscape(digitCount: Int, start: Int) throws(ConfigurationError) -> Unicode.Scalar {
        let escape = text(start..<index)
        var value: UInt32 = 0
        for _ in 0..<digitCount {
            guard let digit = current?.digitValue(radix: 16) else {
                throw failure("'\(escape)' must be followed by \(digitCount) hexadecimal digits", at: start)
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        guard let scalar = Unicode.Scalar(value) else {
            throw failure("'\(text(start..<index))' is not a Unicode scalar value", at: start)
        }
        return scalar
    }

    /// `'...'`, taken as written.
    private mutating func parseLiteralString() throws(ConfigurationError) -> String {
        let open = location(at: index)
        index += 1
        let start = index
        while true {
            guard let scalar = current, scalar != "\n" else {
                throw failure(
                    "unterminated string (opened at \(open.lineAndColumn)): expected \"'\" before \(describe(current))")
            }
            if scalar == "'" {
                index += 1
                return text(start..<(index - 1))
            }
            if scalar.isForbiddenControl {
                throw failure("control character \(scalar.codePoint) is not allowed in a literal string")
            }
            index += 1
        }
    }

    /// `[a, b, ...]`, possibly over several lines with comments; a trailing comma is allowed.
    private mutating func parseArray() throws(ConfigurationError) -> (TOMLValue, elementStarts: [Int]) {
        let open = location(at: index)
        index += 1
        var elements: [TOMLValue] = []
        var starts: [Int] = []
        try skipArrayWhitespace()
        while current != "]" {
            let start = index
            let (element, _) = try parseValue()
            if let first = elements.first, !first.hasSameKind(as: element) {
                throw failure(
                    "mixed-type arrays are not supported by TOML-lite"
                        + " (this element is \(element.typeDescription), the first is \(first.typeDescription))",
                    at: start)
            }
            elements.append(element)
            starts.append(start)
            try skipArrayWhitespace()
            switch current {
            case "]":
                break
            case ",":
                index += 1
                try skipArrayWhitespace()
            case nil:
                throw failure("unterminated array (opened at \(open.lineAndColumn)): expected ']' before \(endOfInput)")
            default:
                throw failure("expected ',' or ']' in the array, found \(describe(current))")
            }
        }
        index += 1
        return (.array(elements), starts)
    }

    /// A value that starts with a letter: a boolean, or a float TOML-lite does not support.
    private mutating func parseWord() throws(ConfigurationError) -> TOMLValue {
        let start = index
        while let scalar = current, scalar.isBareKeyCharacter { index += 1 }
        let word = text(start..<index)
        switch word {
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        case "inf", "nan": throw failure("floats are not supported by TOML-lite", at: start)
        default: throw failure("expected a value, found '\(word)' (strings are quoted, as in \"\(word)\")", at: start)
        }
    }

    /// A value that starts with a sign or a digit: an integer, or a float, date or time that
    /// TOML-lite does not support.
    private mutating func parseNumber() throws(ConfigurationError) -> TOMLValue {
        let start = index
        while let scalar = current, scalar.isNumberTokenCharacter { index += 1 }
        let token = Array(scalars[start..<index])
        let written = text(start..<index)
        if NumberSyntax.isDateOrTime(token) {
            throw failure("dates and times are not supported by TOML-lite", at: start)
        }
        let isNegative = token.first == "-"
        let unsigned = token.first == "+" || isNegative ? token.dropFirst() : token[...]
        if unsigned.elementsEqual("inf".unicodeScalars) || unsigned.elementsEqual("nan".unicodeScalars)
            || NumberSyntax.isFloat(token)
        {
            throw failure("floats are not supported by TOML-lite", at: start)
        }
        var radix = 10
        var digits = unsigned
        if unsigned.count >= 2, unsigned.first == "0", let prefixed = NumberSyntax.radix(prefix: unsigned.dropFirst().first!) {
            guard unsigned.count == token.count else {
                throw failure("'\(written)' is not a valid integer: a sign is not allowed before 0x, 0o or 0b", at: start)
            }
            radix = prefixed
            digits = unsigned.dropFirst(2)
        }
        let failure: NumberSyntax.Failure
        do {
            return .integer(try NumberSyntax.integer(digits: digits, radix: radix, negative: isNegative))
        } catch {
            failure = error
        }
        switch failure {
        case .notDigits:
            let hint = radix == 10 && NumberSyntax.looksLikeUnitValue(unsigned)
                ? " (sizes and durations are strings, as in \"\(written)\")" : ""
            throw self.failure("'\(written)' is not a valid integer\(hint)", at: start)
        case .misplacedUnderscore:
            throw self.failure("'\(written)' is not a valid integer: '_' must sit between two digits", at: start)
        case .leadingZero:
            throw self.failure("'\(written)' is not a valid integer: leading zeros are not allowed", at: start)
        case .overflow:
            throw self.failure("integer \(written) does not fit in 64 bits", at: start)
        }
    }

    // MARK: Whitespace and comments

    mutating func skipWhitespace() {
        while current == " " || current == "\t" { index += 1 }
    }

    /// Inside an array, new lines and comments count as whitespace.
    private mutating func skipArrayWhitespace() throws(ConfigurationError) {
        while true {
            while current == " " || current == "\t" || current == "\n" { index += 1 }
            guard current == "#" else { return }
            try skipComment()
        }
    }

    /// From `#` up to the end of the line, which is left for the caller.
    private mutating func skipComment() throws(ConfigurationError) {
        while let scalar = current, scalar != "\n" {
            if scalar.isForbiddenControl {
                throw failure("control character \(scalar.codePoint) is not allowed in a comment")
            }
            index += 1
        }
    }

    // MARK: Positions and messages

    var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    var isAtEnd: Bool { index == scalars.count }

    mutating func advance() { index += 1 }

    /// The input from `start` to its end.
    func text(from start: Int) -> String { text(start..<scalars.count) }

    private func peek(_ offset: Int) -> Unicode.Scalar? {
        index + offset < scalars.count ? scalars[index + offset] : nil
    }

    private func text(_ range: Range<Int>) -> String {
        String(String.UnicodeScalarView(scalars[range]))
    }

    func location(at index: Int) -> SourceLocation {
        // The last line that starts at or before `index`.
        var low = 0
        var high = lineStarts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if lineStarts[middle] <= index { low = middle } else { high = middle - 1 }
        }
        return SourceLocation(file: file, line: low + 1, column: index - lineStarts[low] + 1)
    }

    func failure(_ message: String, at index: Int? = nil) -> ConfigurationError {
        ConfigurationError(at: location(at: index ?? self.index), message)
    }

    /// Names what was found where something else was expected.
    func describe(_ scalar: Unicode.Scalar?) -> String {
        switch scalar {
        case nil: endOfInput
        case "\n": "the end of the line"
        case " ": "a space"
        case "\t": "a tab"
        case "'": "\"'\""
        case let scalar? where scalar.isForbiddenControl || scalar.properties.generalCategory == .format:
            scalar.codePoint
        case let scalar?: "'\(scalar)'"
        }
    }
}

/// The grammar of TOML numbers, enough to read integers and to recognise what is not one.
enum NumberSyntax {
    enum Failure: Error {
        case notDigits, misplacedUnderscore, leadingZero, overflow
    }

    /// Digits of `radix` with single underscores between them, as a 64-bit integer.
    static func integer(digits: ArraySlice<Unicode.Scalar>, radix: Int, negative: Bool) throws(Failure) -> Int {
        guard !digits.isEmpty, digits.allSatisfy({ $0 == "_" || $0.digitValue(radix: radix) != nil }) else {
            throw .notDigits
        }
        let separated = Array(digits)
        for (offset, scalar) in separated.enumerated() where scalar == "_" {
            let between = offset > 0 && offset < separated.count - 1
                && separated[offset - 1] != "_" && separated[offset + 1] != "_"
            guard between else { throw .misplacedUnderscore }
        }
        if radix == 10, separated.count > 1, separated[0] == "0" { throw .leadingZero }
        var value = 0
        for scalar in separated where scalar != "_" {
            let digit = scalar.digitValue(radix: radix)!
            let (shifted, overflowMultiplying) = value.multipliedReportingOverflow(by: radix)
            let (next, overflowAdding) = negative
                ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            guard !overflowMultiplying, !overflowAdding else { throw .overflow }
            value = next
        }
        return value
    }

    static func radix(prefix: Unicode.Scalar) -> Int? {
        switch prefix {
        case "x": 16
        case "o": 8
        case "b": 2
        default: nil
        }
    }

    /// `1979-05-27...` or `07:32...`: the start of a TOML date, date-time or time.
    static func isDateOrTime(_ token: [Unicode.Scalar]) -> Bool {
        func digits(_ count: Int) -> Bool {
            token.count > count && token[..<count].allSatisfy { $0.digitValue(radix: 10) != nil }
        }
        return (digits(4) && token[4] == "-") || (digits(2) && token[2] == ":")
    }

    /// A TOML float: a decimal integer part, then a fraction, an exponent or both.
    static func isFloat(_ token: [Unicode.Scalar]) -> Bool {
        var index = 0
        if index < token.count, token[index] == "+" || token[index] == "-" { index += 1 }
        if index < token.count, token[index] == "0" {
            index += 1
        } else {
            guard let end = digitRun(token, from: index) else { return false }
            index = end
        }
        var hasFraction = false
        if index < token.count, token[index] == "." {
            guard let end = digitRun(token, from: index + 1) else { return false }
            index = end
            hasFraction = true
        }
        var hasExponent = false
        if index < token.count, token[index] == "e" || token[index] == "E" {
            index += 1
            if index < token.count, token[index] == "+" || token[index] == "-" { index += 1 }
            guard let end = digitRun(token, from: index) else { return false }
            index = end
            hasExponent = true
        }
        return index == token.count && (hasFraction || hasExponent)
    }

    /// The end of `digit (_? digit)*` starting at `start`, or nil when there is no digit there.
    private static func digitRun(_ token: [Unicode.Scalar], from start: Int) -> Int? {
        var index = start
        guard index < token.count, token[index].digitValue(radix: 10) != nil else { return nil }
        index += 1
        while index < token.count {
            if token[index].digitValue(radix: 10) != nil {
                index += 1
            } else if token[index] == "_", index + 1 < token.count, token[index + 1].digitValue(radix: 10) != nil {
                index += 2
            } else {
                break
            }
        }
        return index
    }

    /// `4KiB`, `250ms`: digits followed by letters, a size or a duration someone forgot to quote.
    static func looksLikeUnitValue(_ token: ArraySlice<Unicode.Scalar>) -> Bool {
        guard let firstLetter = token.firstIndex(where: { $0.properties.isAlphabetic }) else { return false }
        return firstLetter > token.startIndex
            && token[..<firstLetter].allSatisfy { $0.digitValue(radix: 10) != nil }
            && token[firstLetter...].allSatisfy { $0.properties.isAlphabetic }
    }
}

extension TOMLValue {
    /// Whether two values may share an array in TOML-lite.
    func hasSameKind(as other: TOMLValue) -> Bool {
        switch (self, other) {
        case (.string, .string), (.integer, .integer), (.boolean, .boolean), (.array, .array): true
        default: false
        }
    }
}

extension Unicode.Scalar {
    /// `A-Z a-z 0-9 _ -`
    var isBareKeyCharacter: Bool {
        switch self {
        case "A"..."Z", "a"..."z", "0"..."9", "_", "-": true
        default: false
        }
    }

    /// What a number, date or time token may contain; the token is classified afterwards.
    var isNumberTokenCharacter: Bool {
        isBareKeyCharacter || self == "+" || self == "." || self == ":"
    }

    /// Control characters other than tab, which TOML allows neither in strings nor in comments.
    var isForbiddenControl: Bool {
        (value < 0x20 && self != "\t") || value == 0x7F
    }

    /// `U+000D`
    var codePoint: String { "U+" + hexDigits(value, width: 4, uppercase: true) }

    func digitValue(radix: Int) -> Int? {
        let digit: Int
        switch self {
        case "0"..."9": digit = Int(value - 48)
        case "a"..."z": digit = Int(value - 97) + 10
        case "A"..."Z": digit = Int(value - 65) + 10
        default: return nil
        }
        return digit < radix ? digit : nil
    }
}
