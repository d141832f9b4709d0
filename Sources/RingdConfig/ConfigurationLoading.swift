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
        var assignments = try KeyAssignments(document)
        for override in overrides {
            assignments.record(try Override.setting(from: override))
        }
        return try assignments.configuration()
    }
}

/// One key set to one value, by a file entry or an override, and where that was written.
struct Setting {
    let key: ConfigurationKey
    let value: TOMLValue
    let keyLocation: SourceLocation
    let valueLocation: SourceLocation
    /// The value as written in the source (see `TOMLEntry.valueText`); for a bare `--set` value,
    /// the bare text.
    let valueText: String
    /// Where each element of an array value starts, when known.
    let elementLocations: [SourceLocation]

    /// The error for `problem`, at the value (or the array element, or the place in a string) it
    /// is about.
    func error(for problem: ValueProblem) -> ConfigurationError {
        Self.error(
            for: problem, path: key.path, value: value, at: valueLocation, writtenAs: valueText,
            elementLocations: elementLocations)
    }

    /// `writtenAs` is the value's source text when known. Only the outermost value has it, so a
    /// problem inside a string that is an array element is reported at the element's start.
    private static func error(
        for problem: ValueProblem, path: String, value: TOMLValue, at location: SourceLocation,
        writtenAs source: String?, elementLocations: [SourceLocation]
    ) -> ConfigurationError {
        switch problem {
        case .wrongType(let expected):
            return ConfigurationError(
                at: location, "wrong type for \(path): expected \(expected), found \(value.typeDescription)")
        case .outOfRange(let range):
            return ConfigurationError(at: location, "\(path) = \(value.tomlText) is out of range (\(range))")
        case .invalid(let predicate):
            return ConfigurationError(at: location, "\(path) = \(value.tomlText) \(predicate)")
        case .element(let index, let inner):
            guard case .array(let elements) = value, elements.indices.contains(index) else {
                return error(for: inner, path: path, value: value, at: location, writtenAs: nil, elementLocations: [])
            }
            // Only the outermost array's elements have their own locations.
            let elementLocation = elementLocations.indices.contains(index) ? elementLocations[index] : location
            return error(
                for: inner, path: "\(path)[\(index)]", value: elements[index], at: elementLocation, writtenAs: nil,
                elementLocations: [])
        case .inString(let offset, let inner):
            var place = location
            if let source {
                let before = source.unicodeScalars.prefix(sourceOffset(ofScalar: offset, inStringWrittenAs: source))
                place = place.advanced(over: before)
            }
            return error(for: inner, path: path, value: value, at: place, writtenAs: nil, elementLocations: [])
        }
    }

    /// How many source scalars after the value's first one scalar `offset` of the string it
    /// decodes to is written. `source` is a basic string (`"..."`, where an escape takes 2, 6
    /// (`\uXXXX`) or 10 (`\UXXXXXXXX`) scalars for one), a literal string (`'...'`, as written), or
    /// the bare text of a `--set` value (as written, without quotes). A quoted string never spans
    /// lines, but a bare value may (`--set $'greet.message=hi\n{peer}'`), so the caller walks the
    /// source up to this offset rather than adding it to the column.
    static func sourceOffset(ofScalar offset: Int, inStringWrittenAs source: String) -> Int {
        let scalars = Array(source.unicodeScalars)
        switch scalars.first {
        case "\"":
            var index = 1
            for _ in 0..<offset where index < scalars.count {
                guard scalars[index] == "\\", index + 1 < scalars.count else {
                    index += 1
                    continue
                }
                switch scalars[index + 1] {
                case "u": index += 6
                case "U": index += 10
                default: index += 2
                }
            }
            return index
        case "'":
            return 1 + offset
        default:
            return offset
        }
    }
}

extension SourceLocation {
    /// The place after `scalars`, written from this one on: a new line moves to column 1 of the
    /// next line. The parser has already read CRLF as LF, so LF is the only line break.
    func advanced(over scalars: some Sequence<Unicode.Scalar>) -> SourceLocation {
        var place = self
        for scalar in scalars {
            if scalar == "\n" {
                place.line += 1
                place.column = 1
            } else {
                place.column += 1
            }
        }
        return place
    }
}

/// What each key was set to, by the file and then by overrides; the last setting of a key wins.
private struct KeyAssignments {
    /// The setting in force for each `table.key`, with its rank: later settings rank higher.
    private var byPath: [String: (setting: Setting, rank: Int)] = [:]
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
                record(
                    Setting(
                        key: key, value: entry.value, keyLocation: entry.keyLocation,
                        valueLocation: entry.valueLocation, valueText: entry.valueText,
                        elementLocations: entry.elementLocations))
            }
        }
    }

    mutating func record(_ setting: Setting) {
        byPath[setting.key.path] = (setting, nextRank)
        nextRank += 1
    }

    /// The defaults with every setting applied, in the order they were written so that the first
    /// error reported is the first in the source; then the rules between keys.
    func configuration() throws(ConfigurationError) -> Configuration {
        var configuration = Configuration.defaults
        for (setting, _) in byPath.values.sorted(by: { $0.rank < $1.rank }) {
            do {
                try setting.key.assign(setting.value, &configuration)
            } catch {
                throw setting.error(for: error)
            }
        }
        for constraint in Schema.constraints {
            guard let message = constraint.violation(configuration) else { continue }
            // Reported where the last of its keys was set. The defaults satisfy every constraint,
            // so at least one of them was.
            let last = constraint.paths.compactMap { byPath[$0] }.max { $0.rank < $1.rank }
            let location = last?.setting.keyLocation ?? SourceLocation(file: "(defaults)", line: 0, column: 0)
            throw ConfigurationError(at: location, message)
        }
        return configuration
    }
}
