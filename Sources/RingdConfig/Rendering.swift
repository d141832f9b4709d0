// The effective configuration written back as TOML-lite, one commented line per key, in schema
// order. `ringd --check` prints it, and conf/ringd.toml is the defaults written this way.

extension Configuration {
    /// The effective configuration as a TOML-lite document that parses back to the same value (ringd --check prints it).
    public func rendered() -> String {
        var lines: [String] = []
        for table in Schema.tableNames {
            if !lines.isEmpty { lines.append("") }
            lines.append("[\(table)]")
            for key in Schema.keys(in: table) {
                lines.append(Self.line(for: key, value: key.currentValue(self)))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `name = value` with the key's documentation as a comment, aligned at column 31 as in the
    /// reference file.
    private static func line(for key: ConfigurationKey, value: TOMLValue) -> String {
        let assignment = "\(key.name) = \(value.tomlText)"
        let padding = String(repeating: " ", count: max(1, 30 - assignment.count))
        let summary = key.summary.map { " (\($0))" } ?? ""
        return assignment + padding + "# " + key.documentation + summary
    }
}
