// What goes wrong while reading a configuration, and where.
//
// Every error names a place a person can jump to: the file (or the `--set` override it came from),
// a 1-based line and column, and a message that says what was expected.

/// A place in a configuration source: a file, or one `--set` override.
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    /// The file name as given, or `--set TEXT` for an override.
    public var file: String
    /// 1-based; 0 when the location is the source as a whole.
    public var line: Int
    /// 1-based, counted in Unicode scalars.
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `FILE:LINE:COL`, or just `FILE` when there is no position.
    public var description: String {
        line == 0 ? file : "\(file):\(line):\(column)"
    }

    /// `LINE:COL`, as messages refer to another place in the same source.
    public var lineAndColumn: String { "\(line):\(column)" }
}

/// A configuration that cannot be read, parsed or validated.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file name as given, or `--set TEXT` for an override.
    public var file: String
    /// 1-based; 0 when the error concerns the source as a whole (for example, it cannot be read).
    public var line: Int
    /// 1-based, counted in Unicode scalars; 0 when `line` is 0.
    public var column: Int
    /// What is wrong, naming the key or the syntax that was expected.
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    init(at location: SourceLocation, _ message: String) {
        self.init(file: location.file, line: location.line, column: location.column, message: message)
    }

    /// `FILE:LINE:COL: message`; an error without a position is its message alone, which then
    /// names the file itself (`cannot read conf/x.toml: No such file or directory`).
    public var description: String {
        line == 0 ? message : "\(file):\(line):\(column): \(message)"
    }

    public var location: SourceLocation { SourceLocation(file: file, line: line, column: column) }
}
