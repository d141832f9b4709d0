// `--set TABLE.KEY=VALUE` overrides, read with the TOML-lite parser so that values mean what they
// would in a file; bare text is accepted where a key takes strings (`--set server.mode=greet`).

/// One `--set TABLE.KEY=VALUE`. Positions are columns in the override's text, and the "file" is
/// `--set TEXT`, so an error reads `--set server.workers=x:1:16: ...`.
enum Override {
    private static let format = "overrides are written TABLE.KEY=VALUE, such as server.workers=4"

    static func setting(from text: String) throws(ConfigurationError) -> Setting {
        var parser = TOMLLiteParser(text: text, file: "--set \(text)", endOfInput: "the end of the override")
        parser.skipWhitespace()
        let keyLocation = parser.location(at: parser.index)
        let key = try target(&parser)
        parser.skipWhitespace()
        let valueLocation = parser.location(at: parser.index)
        let (value, valueText, elementLocations) = try value(for: key, &parser)
        return Setting(
            key: key, value: value, keyLocation: keyLocation, valueLocation: valueLocation,
            valueText: valueText, elementLocations: elementLocations)
    }

    /// `TABLE.KEY =`: the key being set, which must be in the schema.
    private static func target(_ parser: inout TOMLLiteParser) throws(ConfigurationError) -> ConfigurationKey {
        let tableStart = parser.index
        let table = try parser.parseBareKey(expecting: "TABLE.KEY=VALUE")
        guard parser.current == "." else {
            let owner = Schema.keys.first { $0.name == table }.map { "; did you mean \($0.path)?" } ?? ""
            throw parser.failure("expected '.' after '\(table)', found \(parser.describe(parser.current)) (\(format)\(owner))")
        }
        parser.advance()
        let keyStart = parser.index
        let name = try parser.parseBareKey(expecting: "a key after '\(table).'")
        parser.skipWhitespace()
        guard parser.current == "=" else {
            throw parser.failure("expected '=' after '\(table).\(name)', found \(parser.describe(parser.current)) (\(format))")
        }
        parser.advance()
        guard Schema.tableNames.contains(table) else {
            throw parser.failure(unknownTableMessage(table), at: tableStart)
        }
        guard let key = Schema.key(table, name) else {
            throw parser.failure(unknownKeyMessage(name, in: table), at: keyStart)
        }
        return key
    }

    /// The rest of the text: a TOML value or, for a key that takes strings, the text as it is
    /// (unless it was meant as a quoted string and is broken). Also returns the value as written,
    /// so that errors can point inside it.
    private static func value(
        for key: ConfigurationKey, _ parser: inout TOMLLiteParser
    ) throws(ConfigurationError) -> (TOMLValue, text: String, elementLocations: [SourceLocation]) {
        let start = parser.index
        do throws(ConfigurationError) {
            let (value, elementStarts) = try parser.parseValue()
            let text = parser.text(start..<parser.index)
            parser.skipWhitespace()
            if !parser.isAtEnd {
                throw parser.failure("expected the end of the override after the value, found \(parser.describe(parser.current))")
            }
            return (value, text, elementStarts.map(parser.location(at:)))
        } catch {
            let bare = parser.text(from: start).trimmingTrailingWhitespace
            let location = parser.location(at: start)
            guard let bareValue = key.bareValue else {
                throw wrongTypeError(for: key, bare: bare, at: location) ?? error
            }
            guard !bare.hasPrefix("\""), !bare.hasPrefix("'") else { throw error }
            return (bareValue(bare), bare, [location])
        }
    }

    /// For a word such as `yes` given to a key that takes no strings: names the type it takes,
    /// which says more than "expected a value".
    private static func wrongTypeError(
        for key: ConfigurationKey, bare: String, at location: SourceLocation
    ) -> ConfigurationError? {
        guard let first = bare.unicodeScalars.first, first.properties.isAlphabetic else { return nil }
        var scratch = Configuration.defaults
        do {
            try key.assign(.string(bare), &scratch)
        } catch .wrongType(let expected) {
            return ConfigurationError(at: location, "wrong type for \(key.path): expected \(expected), found '\(bare)'")
        } catch {
            return nil
        }
        return nil
    }
}

extension String {
    fileprivate var trimmingTrailingWhitespace: String {
        var scalars = unicodeScalars[...]
        while let last = scalars.last, last == " " || last == "\t" { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
