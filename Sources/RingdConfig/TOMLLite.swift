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
    /// A document may start with a UTF-8 byte-order mark, as TOML 1.0 allows and some editors
    /// write; it is not content, and columns on the first line count from after it. A U+FEFF
    /// anywhere else is refused at its position.
    public static func parse(_ text: String, file: String) throws(ConfigurationError) -> TOMLDocument {
        let content = text.unicodeScalars.first == byteOrderMark ? String(text.unicodeScalars.dropFirst()) : text
        var parser = TOMLLiteParser(text: content, file: file)
        return try parser.parseDocument()
    }

    private static let byteOrderMark: Unicode.Scalar = "\u{FEFF}"
}

/// A recursive-descent parser over the Unicode scalars of one source. Positions are indices into
/// `scalars`; they become a line and column only when something needs to be reported.
struct TOMLLiteParser {
    let scalars: [Unicode.Scalar]
    /// The index of the first scalar of each line.
    private let lineStarts: [Int]
    private let file: String
    /// How messages name the end of the input: "the end of the file".
    private let endOfInput: String
    /// The scalar being looked at.
    var index = 0
    /// Arrays open around `index`. Each costs a stack frame of `parseValue` and `parseArray`, so
    /// the depth is bounded: unbounded, about 10,000 '[' in a file or a `--set` value overflowed
    /// the stack of a release build and crashed ringd (found by tools/fuzz, under ASan at a few
    /// hundred).
    private var arrayDepth = 0
    /// The deepest nesting accepted; configuration values nest at most two arrays deep.
    static let maximumArrayDepth = 32

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
            valueText: text(valueStart..<index), elementLocations: elementStarts.map(location(at:))
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
    private mutating func parseArray() throws(ConfigurationError) -> (TOMLValue, elementStarts: [Int]) {
        guard arrayDepth < Self.maximumArrayDepth else {
            throw failure("arrays nested more than \(Self.maximumArrayDepth) deep are not supported by TOML-lite")
        }
        arrayDepth += 1
        defer { arrayDepth -= 1 }
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
        let written = text(start..<index)
        let failure: NumberSyntax.Failure
        do {
            return .integer(try NumberSyntax.integer(Array(scalars[start..<index])))
        } catch {
            failure = error
        }
        let message =
            switch failure {
            case .dateOrTime: "dates and times are not supported by TOML-lite"
            case .float: "floats are not supported by TOML-lite"
            case .signedPrefix: "'\(written)' is not a valid integer: a sign is not allowed before 0x, 0o or 0b"
            case .notDigits: "'\(written)' is not a valid integer"
            case .unitValue: "'\(written)' is not a valid integer (sizes and durations are strings, as in \"\(written)\")"
            case .misplacedUnderscore: "'\(written)' is not a valid integer: '_' must sit between two digits"
            case .leadingZero: "'\(written)' is not a valid integer: leading zeros are not allowed"
            case .overflow: "integer \(written) does not fit in 64 bits"
            }
        throw self.failure(message, at: start)
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

    func peek(_ offset: Int) -> Unicode.Scalar? {
        index + offset < scalars.count ? scalars[index + offset] : nil
    }

    func text(_ range: Range<Int>) -> String {
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
