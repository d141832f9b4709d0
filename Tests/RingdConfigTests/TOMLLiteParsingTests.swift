// What the TOML-lite parser accepts: every value kind, comments, tables, arrays over several lines,
// and the canonical JSON that the tomllib comparisons rely on.

import Testing
import RingdConfig

@Suite struct TOMLLiteParsingTests {
    private func parse(_ text: String) throws -> TOMLDocument {
        try TOMLLite.parse(text, file: "t.toml")
    }

    private func value(_ valueText: String) throws -> TOMLValue {
        let document = try parse("[t]\nk = \(valueText)\n")
        return try #require(document["t"]?["k"]).value
    }

    @Test func emptyAndCommentOnlyDocumentsHaveNoEntries() throws {
        for text in ["", "\n\n", "# only a comment", "  # indented comment\n\t\n"] {
            let document = try parse(text)
            #expect(document.topLevel.entries.isEmpty)
            #expect(document.tables.isEmpty)
            #expect(document.canonicalJSON == "{}")
        }
    }

    @Test func aByteOrderMarkMayStartTheDocument() throws {
        let document = try parse("\u{FEFF}[server]\nmode = \"echo\"\n")
        #expect(document["server"]?["mode"]?.value == .string("echo"))
        #expect(document["server"]?.headerLocation.column == 1)
    }

    @Test func tablesKeepTheirOrderAndEntries() throws {
        let document = try parse("""
            top = 1
            [server]
            mode = "echo"   # trailing comment
            [ io ]
            [echo]
            lines = true
            """)
        #expect(document.topLevel.entries.map(\.key) == ["top"])
        #expect(document.tables.map(\.name) == ["server", "io", "echo"])
        #expect(document["server"]?["mode"]?.value == .string("echo"))
        #expect(document["io"]?.entries.isEmpty == true)
        #expect(document["echo"]?["lines"]?.value == .boolean(true))
        #expect(document.canonicalJSON == #"{"echo": {"lines": true}, "io": {}, "server": {"mode": "echo"}, "top": 1}"#)
    }

    @Test func locationsPointAtKeysValuesAndElements() throws {
        let document = try parse("""
            # comment
            [server]
              listen = [ "a",
                "b" ]
            """)
        let entry = try #require(document["server"]?["listen"])
        #expect(document["server"]?.headerLocation == SourceLocation(file: "t.toml", line: 2, column: 1))
        #expect(entry.keyLocation == SourceLocation(file: "t.toml", line: 3, column: 3))
        #expect(entry.valueLocation == SourceLocation(file: "t.toml", line: 3, column: 12))
        #expect(entry.elementLocations.map(\.lineAndColumn) == ["3:14", "4:5"])
    }

    @Test(arguments: [
        ("0", 0), ("+0", 0), ("-0", 0), ("42", 42), ("+42", 42), ("-17", -17),
        ("1_000", 1000), ("1_2_3", 123), ("9223372036854775807", Int.max),
        ("-9223372036854775808", Int.min), ("0xDEADbeef", 0xDEAD_BEEF), ("0xdead_beef", 0xDEAD_BEEF),
        ("0x00ff", 255), ("0o755", 0o755), ("0o0", 0), ("0b1101", 13), ("0b1_0", 2),
        ("0x7FFFFFFFFFFFFFFF", Int.max),
    ])
    func integers(text: String, expected: Int) throws {
        #expect(try value(text) == .integer(expected))
    }

    @Test(arguments: [
        (#""plain""#, "plain"),
        (#""""#, ""),
        (#""tab\there""#, "tab\there"),
        (#""\" \\ \b \t \n \f \r""#, "\" \\ \u{08} \t \n \u{0C} \r"),
        (#""\u00e9\u00E9 \U0001F600""#, "éé 😀"),
        (##""# is not a comment here""##, "# is not a comment here"),
        (#""it's""#, "it's"),
        ("\"literal\ttab\"", "literal\ttab"),
        ("\"ünïcödé 漢字 😀\"", "ünïcödé 漢字 😀"),
        ("'C:\\path\\no escapes'", "C:\\path\\no escapes"),
        ("''", ""),
        (#"'say "hi"'"#, #"say "hi""#),
        (#""\u0000""#, "\u{0}"),
    ])
    func strings(text: String, expected: String) throws {
        #expect(try value(text) == .string(expected))
    }

    @Test func booleans() throws {
        #expect(try value("true") == .boolean(true))
        #expect(try value("false") == .boolean(false))
    }

    @Test func arrays() throws {
        #expect(try value("[]") == .array([]))
        #expect(try value("[ 1, 2, 3 ]") == .array([.integer(1), .integer(2), .integer(3)]))
        #expect(try value("[1,2,]") == .array([.integer(1), .integer(2)]))
        #expect(try value(#"["a", 'b']"#) == .array([.string("a"), .string("b")]))
        #expect(try value("[[1, 2], [], [3]]") == .array([.array([.integer(1), .integer(2)]), .array([]), .array([.integer(3)])]))
        #expect(try value("[[1], [\"mixed kinds in different inner arrays\"]]")
            == .array([.array([.integer(1)]), .array([.string("mixed kinds in different inner arrays")])]))
    }

    @Test func arraysSpanLinesWithComments() throws {
        let document = try parse("""
            [server]
            listen = [  # the first line may end in a comment
                "127.0.0.1:7000",   # one

                # a comment line between elements
                "[::1]:7000",
            ]
            after = 1
            """)
        #expect(document["server"]?["listen"]?.value == .array([.string("127.0.0.1:7000"), .string("[::1]:7000")]))
        #expect(document["server"]?["after"]?.value == .integer(1))
    }

    @Test func whitespaceAndLineEndings() throws {
        let document = try parse("\t[ t ]\t\r\n  a\t=\t1\t# c\r\nb=2\r\nc = \"x\"")
        #expect(document.canonicalJSON == #"{"t": {"a": 1, "b": 2, "c": "x"}}"#)
        // A CRLF ends a line like LF, so the next line starts at column 1.
        #expect(document["t"]?["b"]?.keyLocation.lineAndColumn == "3:1")
    }

    @Test func bareKeysMayLookLikeOtherValues() throws {
        let document = try parse("[t]\n1234 = 1\ntrue = false\n-_- = 'face'\nA-b_9 = 0\n")
        #expect(document["t"]?.entries.map(\.key) == ["1234", "true", "-_-", "A-b_9"])
    }

    @Test func canonicalJSONMatchesPythonsJSONDumps() throws {
        let document = try parse(#"""
            b = "quote \" backslash \\ slash / control \u0001 del \u007F é 😀"
            a = [true, false]
            [z]
            Z = -5
            a = [["x"], []]
            """#)
        // What Python prints for the same data with json.dumps(sort_keys=True).
        #expect(document.canonicalJSON == #"""
            {"a": [true, false], "b": "quote \" backslash \\ slash / control \u0001 del \u007f \u00e9 \ud83d\ude00", "z": {"Z": -5, "a": [["x"], []]}}
            """#)
    }

    @Test func tomlTextRoundTrips() throws {
        let values: [TOMLValue] = [
            .string("plain"), .string("\"\\\u{0}\u{1F}\u{7F}\t\n\r\u{08}\u{0C}é😀"), .integer(Int.min), .integer(Int.max),
            .boolean(true), .array([]), .array([.array([.string("a")]), .array([])]),
        ]
        for value in values {
            #expect(try self.value(value.tomlText) == value, "\(value.tomlText)")
        }
    }
}
