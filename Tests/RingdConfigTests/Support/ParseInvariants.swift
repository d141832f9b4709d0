// What the configuration parser promises for every input, valid or not: it returns a
// configuration or a `ConfigurationError` that points at a place in the text it is about, and
// what it accepts it can write back and read again unchanged. FuzzedDocumentTests checks these
// on mutated documents; the libFuzzer harness in tools/fuzz compiles this file too and checks
// them on whatever libFuzzer makes up, so this file imports nothing but RingdConfig and the C
// library.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import RingdConfig

enum ParseInvariants {
    /// The file name given to the parser, which errors about the document must carry.
    static let file = "fuzz.toml"

    /// How `check` reads the overrides a second time, without the document, so that they are
    /// read even when the document is broken. (Overrides read this way are not rendered and read
    /// back: that costs more than the rest together, and an empty document with overrides
    /// already is.)
    enum OverrideReading {
        /// Each override alone: every override is read, whatever the others hold.
        case eachAlone
        /// All the overrides in one parse, which stops at the first one refused. The libFuzzer
        /// harness reads them so: its inputs often hold dozens of overrides, and a parse each
        /// took nine tenths of its time; it can still put any override first.
        case together
    }

    /// Every promise `document` with `overrides` breaks, in words; empty when all hold. Runs
    /// `TOMLLite.parse` on the document, `Configuration.parse` on the document with all the
    /// overrides, and `Configuration.parse` on the overrides without the document, read as
    /// `reading` says.
    static func violations(document: String, overrides: [String], reading: OverrideReading = .eachAlone) -> [String] {
        check(document: document, overrides: overrides, reading: reading).violations
    }

    /// Like `violations`, and says whether the document with all the overrides loaded.
    static func check(
        document: String, overrides: [String], reading: OverrideReading = .eachAlone
    ) -> (loaded: Bool, violations: [String]) {
        var found = documentViolations(document)
        var sources = [file: document]
        for override in overrides { sources["--set \(override)"] = override }
        let (loaded, violations) = configurationCheck(document: document, overrides: overrides, sources: sources)
        found += violations
        guard !overrides.isEmpty, !document.isEmpty || reading == .eachAlone else { return (loaded, found) }
        let parses = reading == .eachAlone ? overrides.map { [$0] } : [overrides]
        for group in parses {
            do {
                _ = try Configuration.parse(text: "", file: file, overrides: group)
            } catch {
                var groupSources = [file: ""]
                for override in group { groupSources["--set \(override)"] = override }
                found += placeViolations(of: error, sources: groupSources)
            }
        }
        return (loaded, found)
    }

    /// TOMLLite alone: an error inside the document, or a document whose every key and value
    /// lies inside it and that reads back the same when written out again.
    static func documentViolations(_ document: String) -> [String] {
        let parsed: TOMLDocument
        do {
            parsed = try TOMLLite.parse(document, file: file)
        } catch {
            return placeViolations(of: error, sources: [file: document])
        }
        var found: [String] = []
        let lines = Lines(document)
        for table in [parsed.topLevel] + parsed.tables {
            for entry in table.entries {
                for location in [entry.keyLocation, entry.valueLocation] + entry.elementLocations
                where !lines.hasPlace(line: location.line, column: location.column) {
                    found.append("entry '\(entry.key)' has location \(location.lineAndColumn) outside the document")
                }
            }
        }
        let rewritten = written(parsed)
        do {
            let reread = try TOMLLite.parse(rewritten, file: file)
            if !haveSameContents(reread, parsed) {
                found.append("written back as \(rewritten.debugDescription), it reads as \(reread.canonicalJSON), not \(parsed.canonicalJSON)")
            }
        } catch {
            found.append("written back as \(rewritten.debugDescription), it is rejected: \(error)")
        }
        return found
    }

    /// `Configuration.parse`: an error that names one of `sources` (the document as `file`, each
    /// override as `--set TEXT`) and a place in it, or a configuration that `rendered()` writes
    /// as a document that parses back to the same configuration.
    /// Also says whether it loaded.
    static func configurationCheck(
        document: String, overrides: [String], sources: [String: String]
    ) -> (loaded: Bool, violations: [String]) {
        let configuration: Configuration
        do {
            configuration = try Configuration.parse(text: document, file: file, overrides: overrides)
        } catch {
            return (false, placeViolations(of: error, sources: sources))
        }
        let rendered = configuration.rendered()
        do {
            let reread = try Configuration.parse(text: rendered, file: file, overrides: [])
            return (true, reread == configuration ? [] : ["rendered as \(rendered.debugDescription), it reads as another configuration"])
        } catch {
            return (true, ["rendered as \(rendered.debugDescription), it is rejected: \(error)"])
        }
    }

    /// An error must name a source it was given, a line in it and a column on that line (or just
    /// past its end), and say something.
    static func placeViolations(of error: ConfigurationError, sources: [String: String]) -> [String] {
        var found: [String] = []
        if error.message.isEmpty { found.append("error without a message: \(error)") }
        if !error.description.hasSuffix(error.message) { found.append("description drops the message: \(error)") }
        if let text = sources[error.file] {
            if !Lines(text).hasPlace(line: error.line, column: error.column) {
                found.append("error at \(error.line):\(error.column), outside \(error.file.debugDescription): \(error)")
            }
        } else {
            found.append("error names \(error.file.debugDescription), which is none of the sources: \(error)")
        }
        return found
    }

    /// The lines of a text, to check places in it.
    struct Lines {
        /// The length of each line in Unicode scalars, without its LF and without a CR before it.
        private var lengths = [0]

        /// Walks the UTF-8 bytes rather than the scalars, which is several times faster (and the
        /// fuzzer builds one for every error): a scalar is counted at its first byte, the one
        /// byte of its encoding that is not a continuation byte (0b10xxxxxx).
        init(_ text: String) {
            var previous: UInt8 = 0
            for byte in text.utf8 {
                if byte == UInt8(ascii: "\n") {
                    if previous == UInt8(ascii: "\r") { lengths[lengths.count - 1] -= 1 }
                    lengths.append(0)
                } else if byte & 0b1100_0000 != 0b1000_0000 {
                    lengths[lengths.count - 1] += 1
                }
                previous = byte
            }
        }

        /// Whether `line` is a 1-based line and `column` a 1-based column on it, counted as the
        /// parser counts (a CR before LF is not counted), at most one past the line's last scalar.
        func hasPlace(line: Int, column: Int) -> Bool {
            guard line >= 1, line <= lengths.count else { return false }
            return column >= 1 && column <= lengths[line - 1] + 1
        }
    }

    /// The same tables in the same order, with the same keys set to the same values in the same
    /// order (where they were written aside).
    private static func haveSameContents(_ first: TOMLDocument, _ second: TOMLDocument) -> Bool {
        let firstTables = [first.topLevel] + first.tables
        let secondTables = [second.topLevel] + second.tables
        return firstTables.count == secondTables.count && zip(firstTables, secondTables).allSatisfy { one, other in
            one.name == other.name && one.entries.map(\.key) == other.entries.map(\.key)
                && one.entries.map(\.value) == other.entries.map(\.value)
        }
    }

    /// `document` written out again: the top-level entries, then each table, one `key = value`
    /// per line with values as `TOMLValue.tomlText` writes them.
    private static func written(_ document: TOMLDocument) -> String {
        var text = ""
        for table in [document.topLevel] + document.tables {
            if !table.name.isEmpty { text += "[\(table.name)]\n" }
            for entry in table.entries { text += "\(entry.key) = \(entry.value.tomlText)\n" }
        }
        return text
    }

    // MARK: Files that are not UTF-8

    /// `Configuration.load` of a file holding `bytes`, which are not valid UTF-8: it must refuse
    /// the file as not UTF-8, at a place where decoding with replacement puts a U+FFFD (the first
    /// bad byte). `path` is a scratch file that is overwritten.
    static func invalidUTF8Violations(_ bytes: [UInt8], scratchPath path: String) -> [String] {
        guard writeFile(path, bytes) else { return ["cannot write the scratch file \(path)"] }
        do {
            _ = try Configuration.load(file: path, overrides: [])
            return ["a file that is not UTF-8 was accepted"]
        } catch {
            guard error.file == path, error.message.hasPrefix("invalid UTF-8") else {
                return ["a file that is not UTF-8 was refused for another reason: \(error)"]
            }
            let repaired = String(decoding: bytes, as: UTF8.self)
            guard scalar(atLine: error.line, column: error.column, in: repaired) == "\u{FFFD}" else {
                return ["invalid UTF-8 reported at \(error.line):\(error.column), where there is no bad byte: \(error)"]
            }
            return []
        }
    }

    /// The scalar at a 1-based line (split at LF only, as the UTF-8 check counts) and column.
    private static func scalar(atLine line: Int, column: Int, in text: String) -> Unicode.Scalar? {
        var currentLine = 1
        var currentColumn = 1
        for scalar in text.unicodeScalars {
            if currentLine == line && currentColumn == column { return scalar }
            if scalar == "\n" {
                currentLine += 1
                currentColumn = 1
            } else {
                currentColumn += 1
            }
        }
        return nil
    }

    private static func writeFile(_ path: String, _ bytes: [UInt8]) -> Bool {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            written += count
        }
        return true
    }
}
