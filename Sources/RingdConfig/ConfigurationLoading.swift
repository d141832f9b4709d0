// From text to a validated `Configuration`: parse the file, check every table and key against the
// schema, lay the `--set` overrides over it, then check every value and the rules between keys.
// Values are checked only once all overrides are in, so an override may fix a value in the file.

extension Configuration {
    /// Reads `file` (nil = defaults only), then applies overrides in order ("table.key=value",
    /// value in TOML syntax; a value that is not valid TOML is taken as a bare string when the key
    /// expects a string, so `--set server.mode=greet` works). Validation is done after all are applied.
    public static func load(file: String?, overrides: [String]) throws(ConfigurationError) -> Configuration {
        guard let file else { return try parse(text: "", file: "(defaults)", overrides: overrides) }
        return try parse(text: SourceFile.contents(of: file), file: file, overrides: overrides)
    }

    /// Like `load`, for text already read; `file` names it in errors.
    public static func parse(text: String, file: String, overrides: [String]) throws(ConfigurationError) -> Configuration {
        let document = try TOMLLite.parse(text, file: file)
        var settings = try Settings(document)
        for override in overrides {
            settings.record(try Override(parsing: override))
        }
        return try settings.configuration()
    }
}

/// What each key was set to, by the file or by an override; the last setting of a key wins.
private struct Settings {
    struct Setting {
        let key: ConfigurationKey
        let value: TOMLValue
        let keyLocation: SourceLocation
        let valueLocation: SourceLocation
        let elementLocations: [SourceLocation]
        /// Later settings have higher ranks: file order first, then overrides in order.
        var rank = 0
    }

    private var byPath: [String: Setting] = [:]
    private var nextRank = 0

    /// The settings in `document`, which must use only tables and keys in the schema.
    init(_ document: TOMLDocument) throws(ConfigurationError) {
        if let entry = document.topLevel.entries.first {
            throw ConfigurationError(at: entry.keyLocation, topLevelKeyMessage(entry.key))
        }
        for table in document.tables {
            guard Schema.tableNames.contains(table.name) else {
                throw ConfigurationError(at: table.headerLocation, unknownTableMessage(table.name))
            }
            for entry in table.entries {
                guard let key = Schema.key(table.name, entry.key) else {
                    throw ConfigurationError(at: entry.keyLocation, unknownKeyMessage(entry.key, in: table.name))
                }
                record(Setting(
                    key: key, value: entry.value, keyLocation: entry.keyLocation,
                    valueLocation: entry.valueLocation, elementLocations: entry.elementLocations))
            }
        }
    }

    mutating func record(_ override: Override) {
        record(Setting(
            key: override.key, value: override.value, keyLocation: override.keyLocation,
            valueLocation: override.valueLocation, elementLocations: override.elementLocations))
    }

    private mutating func record(_ setting: Setting) {
        var setting = setting
        setting.rank = nextRank
        nextRank += 1
        byPath[setting.key.path] = setting
    }

    /// The defaults with every setting applied, in the order they were written so that the first
    /// error reported is the first in the source.
    func configuration() throws(ConfigurationError) -> Configuration {
        var configuration = Configuration.defaults
        for setting in byPath.values.sorted(by: { $0.rank < $1.rank }) {
            do {
                try setting.key.assign(setting.value, &configuration)
            } catch {
                throw setting.error(for: error)
            }
        }
        for constraint in Schema.constraints {
            guard let message = constraint.violation(configuration) else { continue }
            // Defaults satisfy every constraint, so at least one of its keys was set.
            let last = constraint.paths.compactMap { byPath[$0] }.max { $0.rank < $1.rank }
            let location = last?.keyLocation ?? SourceLocation(file: "(defaults)", line: 0, column: 0)
            throw ConfigurationError(at: location, message)
        }
        return configuration
    }
}

extension Settings.Setting {
    /// The error for `problem`, at the value (or the array element) it is about.
    func error(for problem: ValueProblem) -> ConfigurationError {
        var path = key.path
        var value = value
        var location = valueLocation
        var problem = problem
        var isOutermost = true
        while case .element(let index, let inner) = problem {
            path += "[\(index)]"
            if case .array(let elements) = value, elements.indices.contains(index) { value = elements[index] }
            // Only the outermost array's elements have their own locations.
            if isOutermost, elementLocations.indices.contains(index) { location = elementLocations[index] }
            isOutermost = false
            problem = inner
        }
        let message: String
        switch problem {
        case .wrongType(let expected):
            message = "wrong type for \(path): expected \(expected), found \(value.typeDescription)"
        case .outOfRange(let range):
            message = "\(path) = \(value.tomlText) is out of range (\(range))"
        case .invalid(let predicate):
            message = "\(path) = \(value.tomlText) \(predicate)"
        case .element:
            fatalError("unreachable: elements were unwrapped above")
        }
        return ConfigurationError(at: location, message)
    }
}

/// One `--set TABLE.KEY=VALUE`. Positions are columns in the override's text, and the "file" is
/// `--set TEXT`, so an error reads `--set server.workers=x:1:16: ...`.
struct Override {
    let key: ConfigurationKey
    let value: TOMLValue
    let keyLocation: SourceLocation
    let valueLocation: SourceLocation
    let elementLocations: [SourceLocation]

    init(parsing text: String) throws(ConfigurationError) {
        var parser = TOMLLiteParser(text: text, file: "--set \(text)", endOfInput: "the end of the override")
        let format = "overrides are written TABLE.KEY=VALUE, such as server.workers=4"
        parser.skipWhitespace()
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
        parser.skipWhitespace()

        guard Schema.tableNames.contains(table) else {
            throw parser.failure(unknownTableMessage(table), at: tableStart)
        }
        guard let key = Schema.key(table, name) else {
            throw parser.failure(unknownKeyMessage(name, in: table), at: keyStart)
        }
        self.key = key
        keyLocation = parser.location(at: tableStart)
        let valueStart = parser.index
        valueLocation = parser.location(at: valueStart)
        do throws(ConfigurationError) {
            let (value, elementStarts) = try parser.parseValue()
            parser.skipWhitespace()
            if !parser.isAtEnd {
                throw parser.failure("expected the end of the override after the value, found \(parser.describe(parser.current))")
            }
            self.value = value
            elementLocations = elementStarts.map(parser.location(at:))
        } catch {
            // Not TOML: a key that takes strings takes the text as it is, unless it was meant as
            // a quoted string and is broken.
            let bare = parser.text(from: valueStart).trimmingTrailingWhitespace
            guard let bareValue = key.bareValue else {
                throw Self.wrongTypeError(for: key, bare: bare, at: valueLocation) ?? error
            }
            guard !bare.hasPrefix("\""), !bare.hasPrefix("'") else { throw error }
            value = bareValue(bare)
            elementLocations = [valueLocation]
        }
    }

    /// For a word such as `yes` given to a key that takes no strings: names the type it takes,
    /// which says more than "expected a value".
    private static func wrongTypeError(for key: ConfigurationKey, bare: String, at location: SourceLocation) -> ConfigurationError? {
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

/// For a key before any table header, which is never valid: every key belongs to a table.
private func topLevelKeyMessage(_ name: String) -> String {
    if let owner = Schema.keys.first(where: { $0.name == name }) {
        return "key '\(name)' must be in a table (it belongs in [\(owner.table)])"
    }
    let tables = Schema.tableNames.map { "[\($0)]" }.joined(separator: ", ")
    return "unknown key '\(name)' at the top level (every key belongs in a table: \(tables))"
}

private func unknownTableMessage(_ name: String) -> String {
    let suggestion = nearestName(to: name, among: Schema.tableNames).map { " (did you mean [\($0)]?)" } ?? ""
    return "unknown table [\(name)]\(suggestion)"
}

private func unknownKeyMessage(_ name: String, in table: String) -> String {
    let names = Schema.keys(in: table).map(\.name)
    let suggestion: String
    if let nearest = nearestName(to: name, among: names) {
        suggestion = " (did you mean '\(nearest)'?)"
    } else if let owner = Schema.keys.first(where: { $0.name == name }) {
        suggestion = " (it belongs in [\(owner.table)])"
    } else {
        suggestion = ""
    }
    return "unknown key '\(name)' in [\(table)]\(suggestion)"
}

private extension String {
    var trimmingTrailingWhitespace: String {
        var scalars = unicodeScalars[...]
        while let last = scalars.last, last == " " || last == "\t" { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
