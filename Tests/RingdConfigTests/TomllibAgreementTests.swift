// TOML-lite must mean what TOML means: every document it accepts must load to the same data with
// Python's tomllib, and every document it rejects must be invalid TOML or use a part of TOML that
// TOML-lite documents as unsupported, never be a misparse.

import Foundation
import Testing
import RingdConfig

@Suite struct TomllibAgreementTests {
    /// Valid TOML-lite documents, each exercising something a parser could get wrong.
    static let validCorpus: [String] = [
        "",
        "\n\n\n",
        "# only a comment\n",
        "# comment without a final newline",
        "a = 1",
        "a=1\nb=2\n",
        "a = 1#comment right after the value\n",
        "a = 'literal'# and a comment\n",
        "\t a \t = \t 1 \t # tabs and spaces everywhere\n",
        "a = 1\r\nb = \"two\"\r\n[t]\r\nc = [1,\r\n 2]\r\n",
        "[server]\nmode = \"echo\"\nlisten = [\"127.0.0.1:7000\"]\nworkers = \"auto\"\n",
        "top = true\n[server]\ntop = false\n",
        "[a]\n[b]\n[c]\n",
        "[ spaced ]\nx = 1\n[\ttabbed\t]\ny = 2\n",
        "[t] # comment after a header\nk = 1\n",
        "[zeta]\nb = 1\n[alpha]\na = 2\n[Mid]\nc = 3\n",
        "[1234]\n[true]\n[-]\n[_]\n",
        "1234 = 1\ntrue = false\nfalse = true\ninf = 1\nnan = 2\n",
        "-_- = 'face'\nA-Z_09 = 0\n---- = 1\n",
        "i = [0, +0, -0, 42, +42, -17]\n",
        "big = 9223372036854775807\nsmall = -9223372036854775808\n",
        "u = 1_000_000\nv = 5_3_4\nw = -1_0\n",
        "h = [0x0, 0xDEADbeef, 0xdead_BEEF, 0x00ff, 0x7FFFFFFFFFFFFFFF]\n",
        "o = [0o0, 0o755, 0o7_7]\nb = [0b0, 0b1101, 0b1_0_1]\n",
        "t = true\nf = false\nl = [true, false, true]\n",
        "s = \"\\\" \\\\ \\b \\t \\n \\f \\r\"\n",
        "s = \"\\u00e9\\u00E9\\u0000\\u001F\\u007F \\U0001F600 \\U0000004A\"\n",
        "s = \"ünïcödé 漢字 😀 \u{2028} \u{FEFF}\"\n",
        "s = \"tab\there\"\nl = 'tab\there'\n",
        "s = \"# not a comment\"\nl = '# neither'\n",
        "s = \"it's\"\nl = 'say \"hi\"'\n",
        "w = 'C:\\Users\\nobody\\no\\escapes'\n",
        "e = ''\nd = \"\"\n",
        "a = []\nb = [ ]\nc = [\n]\nd = [ # comment only\n]\n",
        "a = [[1, 2], [], [3]]\nb = [[\"x\"], [\"y\", 'z']]\n",
        "a = [[1], [\"inner arrays may differ in kind\"], [[true]]]\n",
        "a = [1,]\nb = [ \"x\" , ]\nc = [[1,],]\n",
        "listen = [\n  \"127.0.0.1:7000\",  # one\n\n  # a comment line\n  \"[::1]:7000\",\n]\nafter = 1\n",
        "a = [ # first\n 1 # after an element\n , # after a comma\n 2\n] # after the array\n",
        "a = [\n  [\n    1,\n    2,\n  ],\n  [\n  ]\n]\n",
        "a = [\"\\\"\", '\\', \"]\", \",\", \"#\"]\n",
        "# comment with ünïcödé and \t a tab\na = 1 # 漢字\n",
        "[server]\n# every default\nmode = \"echo\"\npin_workers = true\nbacklog = 4096\n[io]\nbuffer_size = \"4KiB\"\n[echo]\nlines = false\n",
        "key = \"value\"   \n\n\n[t]   \n\n  k = 'v'   \n",
        "long = \"" + String(repeating: "abc ", count: 500) + "\"\n",
        "deep = [[[[[[1]]]]]]\n",
        "[t]\nt = \"table and key share a name\"\n",
    ]

    /// Valid TOML that TOML-lite rejects on purpose, each with a documented restriction.
    static let outsideTheSubset: [String] = [
        "a = 1.5", "a = 1e3", "a = -2.5E-3", "a = inf", "a = +nan", "a = [1, 1.5]",
        "a = 1979-05-27", "a = 07:32:00", "a = 1979-05-27T07:32:00Z", "a = 1979-05-27 07:32:00",
        "a = {}", "a = { b = 1 }", "a.b = 1", "[a.b]", "\"a\" = 1", "['a']", "\"\" = 1",
        "a = \"\"\"x\"\"\"", "a = '''x'''", "a = \"\"\"\nmulti\n\"\"\"", "[[a]]", "[[a]]\nb = 1\n[[a]]",
        "a = [1, \"x\"]", "a = [[1], 2]", "a = [true, 1]",
        "a = 9223372036854775808", "a = -9223372036854775809", "a = 0x1_0000_0000_0000_0000",
    ]

    /// Invalid TOML, which both parsers must reject.
    static let invalidTOML: [String] = [
        "[server]\nmode = 1\nmode = 2", "a = 1\na = 2", "[a]\n[b]\n[a]", "a = 1\n[a]",
        "[t]\nkey value", "key =", "key =\n", "= 1", "a = 1\n\u{FEFF}b = 2", "a = 1 2", "a = 1\r", "a = 1\rb = 2",
        "[t] x", "[t", "[]", "a = greet", "a = truex", "a = TRUE", "a = _1", "a = .5", "a = 1.",
        "a = \"abc", "a = \"abc\nb = 1", "a = 'abc", "a = \"\\x\"", "a = \"\\e\"", "a = \"\\x41\"",
        "a = \"x\\\ny\"", "a = \"\\u12\"", "a = \"\\uD800\"", "a = \"\\U00110000\"", "a = \"bell\u{07}\"",
        "a = 'x\u{7F}'", "# bad \u{01}", "a = [ # bad \u{00}\n]", "a = \"nul \u{00}\"",
        "a = 01", "a = -00", "a = 1__0", "a = 1_", "a = 0x_1", "a = 0x", "a = 0X1F", "a = -0x1",
        "a = +0b1", "a = 0b102", "a = 0o8", "a = +", "a = -", "a = 4KiB", "a = 250ms",
        "a = [1, 2", "a = [1 2]", "a = [,]", "a = [1,,]", "a = [\n  1\n  2\n]", "a = [", "a = ]",
        "a", "a =", "[a]]", "[a", "[ a b ]", "a b = 1", "a = 1,", "a = 'x' 'y'",
    ]

    @Test func corporaAreLargeEnough() {
        #expect(Self.validCorpus.count >= 40)
        #expect(Self.outsideTheSubset.count + Self.invalidTOML.count >= 40)
    }

    @Test func everyValidDocumentMeansTheSameToTomllib() throws {
        let reference = try Tomllib.outcomes(of: Self.validCorpus)
        for (document, expected) in zip(Self.validCorpus, reference) {
            #expect(expected.isAccepted, "tomllib rejects a corpus document: \(document.debugDescription)")
            #expect(liteOutcome(document) == expected, "\(document.debugDescription)")
        }
    }

    @Test func documentsOutsideTheSubsetAreRejectedAsUnsupported() throws {
        let reference = try Tomllib.outcomes(of: Self.outsideTheSubset)
        for (document, tomllib) in zip(Self.outsideTheSubset, reference) {
            #expect(tomllib.isAccepted, "not valid TOML, so not a restriction: \(document.debugDescription)")
            guard case .rejected(let message) = liteOutcome(document) else {
                Issue.record("TOML-lite accepts \(document.debugDescription)")
                continue
            }
            #expect(isDocumentedRestriction(message), "\(document.debugDescription): \(message)")
        }
    }

    @Test func invalidDocumentsAreRejectedByBoth() throws {
        let reference = try Tomllib.outcomes(of: Self.invalidTOML)
        for (document, tomllib) in zip(Self.invalidTOML, reference) {
            #expect(!tomllib.isAccepted, "tomllib accepts \(document.debugDescription): \(tomllib)")
            #expect(!liteOutcome(document).isAccepted, "TOML-lite accepts \(document.debugDescription)")
        }
    }

    @Test func everyFileInConfMeansTheSameToTomllib() throws {
        let files = try confFiles()
        #expect(files.map(\.lastPathComponent).contains("ringd.toml"))
        #expect(files.map(\.lastPathComponent).contains("echo.toml"))
        let texts = try files.map { try String(contentsOf: $0, encoding: .utf8) }
        let reference = try Tomllib.outcomes(of: texts)
        for (file, (text, expected)) in zip(files, zip(texts, reference)) {
            #expect(expected.isAccepted, "tomllib rejects \(file.lastPathComponent): \(expected)")
            #expect(liteOutcome(text) == expected, "\(file.lastPathComponent)")
        }
    }

    @Test func theComparisonNoticesADifference() throws {
        // The same document read two ways must compare unequal, or the tests above prove nothing.
        let reference = try Tomllib.outcomes(of: ["a = 1", "a = \"1\""])
        #expect(reference[0] != reference[1])
        #expect(liteOutcome("a = 1") == reference[0])
        #expect(liteOutcome("a = 1") != reference[1])
    }
}
