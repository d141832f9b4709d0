// The parsed form of a TOML-lite document: tables of key/value entries that remember where each
// key and value was written, so that schema errors can point at them.

/// A TOML-lite value. Floats, dates and inline tables are outside the subset, so they never occur.
public indirect enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    /// Every element has the same kind (TOML-lite has no mixed-type arrays).
    case array([TOMLValue])

    /// The kind with its article, as in "found a string".
    public var typeDescription: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .boolean: "a boolean"
        case .array: "an array"
        }
    }

    /// The value written as TOML-lite, as it appears in messages and rendered documents.
    public var tomlText: String {
        switch self {
        case .string(let text): TOMLValue.basicString(text)
        case .integer(let number): String(number)
        case .boolean(let flag): flag ? "true" : "false"
        case .array(let elements): "[" + elements.map(\.tomlText).joined(separator: ", ") + "]"
        }
    }

    /// `text` as a TOML basic string: quotes, backslashes and control characters are escaped, so
    /// that every TOML parser reads back exactly `text`.
    static func basicString(_ text: String) -> String {
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\t": quoted += "\\t"
            case "\r": quoted += "\\r"
            case "\u{08}": quoted += "\\b"
            case "\u{0C}": quoted += "\\f"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                quoted += "\\u" + hexDigits(scalar.value, width: 4, uppercase: true)
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }
}

/// One `key = value` line.
public struct TOMLEntry: Sendable, Equatable {
    public var key: String
    public var value: TOMLValue
    /// Where the key starts.
    public var keyLocation: SourceLocation
    /// Where the value starts.
    public var valueLocation: SourceLocation
    /// The value as written, from its first scalar to its last: quotes and escapes included, so
    /// that a place inside a string can be found in the source (a string never spans lines).
    public var valueText: String
    /// Where each element starts when the value is an array; empty otherwise.
    public var elementLocations: [SourceLocation]
}

/// The entries under one `[name]` header, or the top-level entries before any header.
public struct TOMLTable: Sendable, Equatable {
    /// The table name; empty for the top level.
    public var name: String
    /// Where the header's `[` is; for the top level, line 1 column 1.
    public var headerLocation: SourceLocation
    /// In the order they are written.
    public var entries: [TOMLEntry]

    public subscript(key: String) -> TOMLEntry? {
        entries.first { $0.key == key }
    }
}

/// A parsed TOML-lite document.
public struct TOMLDocument: Sendable, Equatable {
    /// Entries written before the first table header.
    public var topLevel: TOMLTable
    /// Tables in the order their headers appear.
    public var tables: [TOMLTable]

    public subscript(table: String) -> TOMLTable? {
        tables.first { $0.name == table }
    }

    /// The document as JSON exactly as Python writes `json.dumps(tomllib.loads(text),
    /// sort_keys=True)`, so that tests can compare this parser with a full TOML parser.
    public var canonicalJSON: String {
        var members: [(String, String)] = topLevel.entries.map { ($0.key, $0.value.canonicalJSON) }
        for table in tables {
            let object = table.entries.map { ($0.key, $0.value.canonicalJSON) }
            members.append((table.name, canonicalJSONObject(object)))
        }
        return canonicalJSONObject(members)
    }
}

extension TOMLValue {
    /// The value as Python's `json.dumps` writes it (see `TOMLDocument.canonicalJSON`).
    public var canonicalJSON: String {
        switch self {
        case .string(let text): canonicalJSONString(text)
        case .integer(let number): String(number)
        case .boolean(let flag): flag ? "true" : "false"
        case .array(let elements): "[" + elements.map(\.canonicalJSON).joined(separator: ", ") + "]"
        }
    }
}

/// A JSON object with keys sorted by code point and Python's default `", "` and `": "` separators.
private func canonicalJSONObject(_ members: [(key: String, json: String)]) -> String {
    let sorted = members.sorted { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) }
    return "{" + sorted.map { canonicalJSONString($0.key) + ": " + $0.json }.joined(separator: ", ") + "}"
}

/// A JSON string as Python writes it with `ensure_ascii=True`: printable ASCII as is, the short
/// escapes for quote, backslash and five control characters, and `\uxxxx` (lower-case, surrogate
/// pairs above U+FFFF) for everything else.
private func canonicalJSONString(_ text: String) -> String {
    var json = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": json += "\\\""
        case "\\": json += "\\\\"
        case "\n": json += "\\n"
        case "\t": json += "\\t"
        case "\r": json += "\\r"
        case "\u{08}": json += "\\b"
        case "\u{0C}": json += "\\f"
        case " "..."~": json.unicodeScalars.append(scalar)
        default:
            for unit in scalar.utf16 {
                json += "\\u" + hexDigits(UInt32(unit), width: 4, uppercase: false)
            }
        }
    }
    return json + "\""
}

func hexDigits(_ value: UInt32, width: Int, uppercase: Bool) -> String {
    let digits = String(value, radix: 16, uppercase: uppercase)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
