// TOML-lite's strings: basic strings with their escapes, and literal strings (see TOMLLite.swift
// for the subset). A string never spans lines.

extension TOMLLiteParser {
    mutating func parseBasicString() throws(ConfigurationError) -> String {
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
    mutating func parseLiteralString() throws(ConfigurationError) -> String {
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
}
