// Inputs that tools/fuzz found breaking a promise of the configuration parser (see
// ParseInvariants), each with the answer it must get.

import Testing
import RingdConfig

@Suite struct FuzzedDocumentTests {
    /// Inputs that once broke a promise, with the answer each must get.
    @Test(arguments: [
        // Found by tools/fuzz: a bare `--set` value that spans lines had its error put on the
        // first line, past its end, at the column it would have on one long line.
        (["greet.message=a\n{x}"],
         "--set greet.message=a\n{x}:2:1: greet.message = \"a\\n{x}\" is not a valid message:"
            + " unknown placeholder {x}; expected one of {peer}, {time}, {clients}"),
        (["counter.message=one\ntwo\n{count}{seq}"],
         "--set counter.message=one\ntwo\n{count}{seq}:3:8: counter.message = \"one\\ntwo\\n{count}{seq}\""
            + " is not a valid message: {seq} is not filled in this message;"
            + " expected one of {count}, {peer}, {time}, {clients}"),
    ])
    func foundByFuzzing(overrides: [String], expected: String) {
        #expect(configurationError("", overrides: overrides) == expected)
        #expect(ParseInvariants.violations(document: "", overrides: overrides).isEmpty)
    }
}
