// Every kind of syntax error, with its exact position and message: what was expected, what was
// found, and "not supported by TOML-lite" for the parts of TOML outside the subset.

import Testing
import RingdConfig

@Suite struct TOMLLiteSyntaxErrorTests {
    private func error(_ text: String) -> String? {
        do {
            _ = try TOMLLite.parse(text, file: "t.toml")
            return nil
        } catch {
            return error.description
        }
    }

    @Test(arguments: [
        ("a = 1.5", "1:5: floats are not supported by TOML-lite"),
        ("a = 1e3", "1:5: floats are not supported by TOML-lite"),
        ("a = -2.5E-3", "1:5: floats are not supported by TOML-lite"),
        ("a = inf", "1:5: floats are not supported by TOML-lite"),
        ("a = -nan", "1:5: floats are not supported by TOML-lite"),
        ("a = 1979-05-27", "1:5: dates and times are not supported by TOML-lite"),
        ("a = 07:32:00", "1:5: dates and times are not supported by TOML-lite"),
        ("a = 1979-05-27T07:32:00Z", "1:5: dates and times are not supported by TOML-lite"),
        ("a = { b = 1 }", "1:5: inline tables are not supported by TOML-lite"),
        ("a.b = 1", "1:2: dotted keys are not supported by TOML-lite"),
        ("a . b = 1", "1:3: dotted keys are not supported by TOML-lite"),
        ("[a.b]", "1:3: dotted keys are not supported by TOML-lite"),
        ("\"a\" = 1", "1:1: quoted keys are not supported by TOML-lite"),
        ("['a']", "1:2: quoted keys are not supported by TOML-lite"),
        ("a = \"\"\"x\"\"\"", "1:5: multi-line strings are not supported by TOML-lite"),
        ("a = '''x'''", "1:5: multi-line strings are not supported by TOML-lite"),
        ("[[a]]", "1:1: arrays of tables are not supported by TOML-lite"),
        ("a = [1, \"x\"]",
         "1:9: mixed-type arrays are not supported by TOML-lite (this element is a string, the first is an integer)"),
        ("a = [[1], 2]",
         "1:11: mixed-type arrays are not supported by TOML-lite (this element is an integer, the first is an array)"),
    ])
    func outsideTheSubset(text: String, expected: String) {
        #expect(error(text) == "t.toml:" + expected)
    }

    @Test(arguments: [
        ("[server]\nmode = 1\nmode = 2", "3:1: duplicate key 'mode' in [server] (first set at 2:1)"),
        ("a = 1\n  a = 2", "2:3: duplicate key 'a' at the top level (first set at 1:1)"),
        ("[a]\n[b]\n[a]", "3:1: duplicate table [a] (first defined at 1:1)"),
        ("a = 1\n[a]", "2:1: table [a] conflicts with the key 'a' set at 1:1"),
    ])
    func duplicates(text: String, expected: String) {
        #expect(error(text) == "t.toml:" + expected)
    }

    @Test(arguments: [
        ("[t]\nkey value", "2:5: expected '=' after the key 'key', found 'v'"),
        ("key =", "1:6: expected a value, found the end of the file"),
        ("key =\n", "1:6: expected a value, found the end of the line"),
        ("= 1", "1:1: expected a key, a [table] header or a comment, found '='"),
        ("a = 1\n\u{FEFF}b = 2", "2:1: expected a key, a [table] header or a comment, found U+FEFF"),
        ("\u{FEFF}\u{FEFF}a = 1", "1:1: expected a key, a [table] header or a comment, found U+FEFF"),
        ("a = 1 2", "1:7: expected a comment or a new line, found '2'"),
        ("a = 1\r", "1:6: expected a comment or a new line, found U+000D"),
        ("[t] x", "1:5: expected a comment or a new line, found 'x'"),
        ("[t", "1:3: expected ']' after the table name 't', found the end of the file"),
        ("[]", "1:2: expected a table name, found ']'"),
        ("a = greet", "1:5: expected a value, found 'greet' (strings are quoted, as in \"greet\")"),
        ("a = truex", "1:5: expected a value, found 'truex' (strings are quoted, as in \"truex\")"),
        ("a = _1", "1:5: expected a value, found '_'"),
        ("a = .5", "1:5: expected a value, found '.'"),
    ])
    func statements(text: String, expected: String) {
        #expect(error(text) == "t.toml:" + expected)
    }

    @Test(arguments: [
        ("a = \"abc", "1:9: unterminated string (opened at 1:5): expected '\"' before the end of the file"),
        ("a = \"abc\nb = 1", "1:9: unterminated string (opened at 1:5): expected '\"' before the end of the line"),
        ("a = 'abc", "1:9: unterminated string (opened at 1:5): expected \"'\" before the end of the file"),
        ("a = \"\\x\"",
         "1:6: invalid escape '\\x' (valid escapes are \\\" \\\\ \\b \\f \\n \\r \\t \\uXXXX \\UXXXXXXXX)"),
        ("a = \"\\e\"",
         "1:6: invalid escape '\\e' (valid escapes are \\\" \\\\ \\b \\f \\n \\r \\t \\uXXXX \\UXXXXXXXX)"),
        ("a = \"x\\\ny\"", "1:7: invalid escape: '\\' followed by the end of the line"),
        ("a = \"\\u12\"", "1:6: '\\u' must be followed by 4 hexadecimal digits"),
        ("a = \"\\uD800\"", "1:6: '\\uD800' is not a Unicode scalar value"),
        ("a = \"\\U00110000\"", "1:6: '\\U00110000' is not a Unicode scalar value"),
        ("a = \"bell\u{07}\"", "1:10: control character U+0007 must be written as an escape in a string"),
        ("a = 'x\u{7F}'", "1:7: control character U+007F is not allowed in a literal string"),
        ("# bad \u{01}", "1:7: control character U+0001 is not allowed in a comment"),
        ("a = [ # bad \u{00}\n]", "1:13: control character U+0000 is not allowed in a comment"),
    ])
    func strings(text: String, expected: String) {
        #expect(error(text) == "t.toml:" + expected)
    }

    @Test(arguments: [
        ("a = 01", "1:5: '01' is not a valid integer: leading zeros are not allowed"),
        ("a = -00", "1:5: '-00' is not a valid integer: leading zeros are not allowed"),
        ("a = 1__0", "1:5: '1__0' is not a valid integer: '_' must sit between two digits"),
        ("a = 1_", "1:5: '1_' is not a valid integer: '_' must sit between two digits"),
        ("a = 0x_1", "1:5: '0x_1' is not a valid integer: '_' must sit between two digits"),
        ("a = 0x", "1:5: '0x' is not a valid integer"),
        ("a = 0X1F", "1:5: '0X1F' is not a valid integer"),
        ("a = -0x1", "1:5: '-0x1' is not a valid integer: a sign is not allowed before 0x, 0o or 0b"),
        ("a = 0b102", "1:5: '0b102' is not a valid integer"),
        ("a = +", "1:5: '+' is not a valid integer"),
        ("a = 9223372036854775808", "1:5: integer 9223372036854775808 does not fit in 64 bits"),
        ("a = -9223372036854775809", "1:5: integer -9223372036854775809 does not fit in 64 bits"),
        ("a = 0x1_0000_0000_0000_0000", "1:5: integer 0x1_0000_0000_0000_0000 does not fit in 64 bits"),
        ("a = 4KiB", "1:5: '4KiB' is not a valid integer (sizes and durations are strings, as in \"4KiB\")"),
    ])
    func integers(text: String, expected: String) {
        #expect(error(text) == "t.toml:" + expected)
    }

    @Test(arguments: [
        ("a = [1, 2", "1:10: unterminated array (opened at 1:5): expected ']' before the end of the file"),
        ("a = [1 2]", "1:8: expected ',' or ']' in the array, found '2'"),
        ("a = [,]", "1:6: expected a value, found ','"),
        ("a = [1,,]", "1:8: expected a value, found ','"),
        ("a = [\n  1\n  2\n]", "3:3: expected ',' or ']' in the array, found '2'"),
    ])
    func arrays(text: String, expected: String) {
        #expect(error(text) == "t.toml:" + expected)
    }

    /// Found by tools/fuzz: each '[' took a stack frame, and 10,000 crashed a release build.
    @Test func deeplyNestedArraysAreRefusedNotACrash() throws {
        let deepest = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        let accepted = try TOMLLite.parse("a = \(deepest)", file: "t.toml")
        #expect(accepted.topLevel.entries.count == 1)
        #expect(error("a = [\(deepest)]") == "t.toml:1:37: arrays nested more than 32 deep are not supported by TOML-lite")
        #expect(error("a = " + String(repeating: "[", count: 100_000))
            == "t.toml:1:37: arrays nested more than 32 deep are not supported by TOML-lite")
    }

    @Test func descriptionIsFileLineColumnMessage() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try TOMLLite.parse("[server]\n\nbacklog = 1.5\n", file: "conf/x.toml")
        }
        #expect(error.file == "conf/x.toml")
        #expect(error.line == 3)
        #expect(error.column == 11)
        #expect(error.message == "floats are not supported by TOML-lite")
        #expect(error.description == "conf/x.toml:3:11: floats are not supported by TOML-lite")
    }

    @Test func columnsCountUnicodeScalars() {
        #expect(error("a = \"é😀\" x") == "t.toml:1:10: expected a comment or a new line, found 'x'")
    }
}
