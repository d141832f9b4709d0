// Message keys (greet.message, counter.message, broadcast.message, broadcast.greeting): a bad or
// unfillable placeholder is reported at its brace inside the string, in the file or in `--set`,
// counting columns in the source text, escapes included.

import Testing
@testable import RingdConfig

@Suite struct MessageKeyTests {
    private static let greetPlaceholders = "expected one of {peer}, {time}, {clients}"

    @Test(arguments: [
        // `message = "` puts the opening quote in column 11, so the template's column c is 11 + c.
        ("[greet]\nmessage = \"hi {nope}\\n\"",
         "t.toml:2:15: greet.message = \"hi {nope}\\n\" is not a valid message: unknown placeholder {nope}; \(greetPlaceholders)"),
        // Escapes before the brace take 6 (\u00e9), 2 (\t) and 2 (\") source columns for one scalar each.
        ("[greet]\nmessage = \"\\u00e9\\t\\\"{nope}\"",
         "t.toml:2:22: greet.message = \"é\\t\\\"{nope}\" is not a valid message: unknown placeholder {nope}; \(greetPlaceholders)"),
        // \U takes 10; a placeholder the message cannot fill is reported the same way.
        ("[greet]\nmessage = \"\\U0001F600 {peer} {seq}\"",
         "t.toml:2:30: greet.message = \"😀 {peer} {seq}\" is not a valid message: {seq} is not filled in this message; \(greetPlaceholders)"),
        // A literal string has no escapes; indentation moves everything along.
        ("[counter]\n  message = 'C:\\path {cout}'",
         "t.toml:2:22: counter.message = \"C:\\\\path {cout}\" is not a valid message: unknown placeholder {cout} (did you mean {count}?); expected one of {count}, {peer}, {time}, {clients}"),
        // A tab before the value is one column; so is a non-ASCII scalar written as itself.
        ("[greet]\nmessage =\t\"é{x}\"",
         "t.toml:2:13: greet.message = \"é{x}\" is not a valid message: unknown placeholder {x}; \(greetPlaceholders)"),
        ("[greet]\r\nmessage = \"x{y}\"\r\n",
         "t.toml:2:13: greet.message = \"x{y}\" is not a valid message: unknown placeholder {y}; \(greetPlaceholders)"),
        ("[broadcast]\nmessage = \"tick {seq\"",
         "t.toml:2:17: broadcast.message = \"tick {seq\" is not a valid message: \"{\" opens a placeholder that is never closed; write \"{{\" for a literal brace"),
        ("[broadcast]\ngreeting = \"{{x}} y}\"",
         "t.toml:2:20: broadcast.greeting = \"{{x}} y}\" is not a valid message: \"}\" closes no placeholder; write \"}}\" for a literal brace"),
        // A broadcast tick goes to every client at once, so it has no {peer}; the greeting does.
        ("[broadcast]\nmessage = \"{seq} from {peer}\"",
         "t.toml:2:23: broadcast.message = \"{seq} from {peer}\" is not a valid message: {peer} is not filled in this message; expected one of {seq}, {time}, {clients}"),
        ("[broadcast]\ngreeting = \"hi {peer}, {count}\"",
         "t.toml:2:24: broadcast.greeting = \"hi {peer}, {count}\" is not a valid message: {count} is not filled in this message; expected one of {seq}, {time}, {clients}, {peer}"),
        ("[counter]\nmessage = \"{Count}\"",
         "t.toml:2:12: counter.message = \"{Count}\" is not a valid message: unknown placeholder {Count} (did you mean {count}?); expected one of {count}, {peer}, {time}, {clients}"),
        ("[greet]\nmessage = \"\"", "t.toml:2:11: greet.message = \"\" is empty: a message needs at least one character"),
        ("[greet]\nmessage = 1", "t.toml:2:11: wrong type for greet.message: expected a string, found an integer"),
        ("[broadcast]\ngreeting = [\"hi\"]", "t.toml:2:12: wrong type for broadcast.greeting: expected a string, found an array"),
    ])
    func errorsInAFilePointAtTheBrace(text: String, expected: String) {
        #expect(configurationError(text) == expected)
    }

    @Test(arguments: [
        // Bare text: `greet.message=` is 14 columns, so the template's column c is 14 + c.
        ("greet.message=hi {nope}",
         "--set greet.message=hi {nope}:1:18: greet.message = \"hi {nope}\" is not a valid message: unknown placeholder {nope}; \(greetPlaceholders)"),
        // Quoted: one more for the quote.
        ("greet.message=\"hi {nope}\\n\"",
         "--set greet.message=\"hi {nope}\\n\":1:19: greet.message = \"hi {nope}\\n\" is not a valid message: unknown placeholder {nope}; \(greetPlaceholders)"),
        ("greet.message = \"\\t{count}\"",
         "--set greet.message = \"\\t{count}\":1:20: greet.message = \"\\t{count}\" is not a valid message: {count} is not filled in this message; \(greetPlaceholders)"),
        ("greet.message='a\\n{peers}'",
         "--set greet.message='a\\n{peers}':1:19: greet.message = \"a\\\\n{peers}\" is not a valid message: unknown placeholder {peers} (did you mean {peer}?); \(greetPlaceholders)"),
        ("counter.message={count} of {total}",
         "--set counter.message={count} of {total}:1:28: counter.message = \"{count} of {total}\" is not a valid message: unknown placeholder {total}; expected one of {count}, {peer}, {time}, {clients}"),
        ("broadcast.greeting=}",
         "--set broadcast.greeting=}:1:20: broadcast.greeting = \"}\" is not a valid message: \"}\" closes no placeholder; write \"}}\" for a literal brace"),
        ("greet.message=", "--set greet.message=:1:15: greet.message = \"\" is empty: a message needs at least one character"),
    ])
    func errorsInAnOverridePointAtTheBrace(override: String, expected: String) {
        #expect(configurationError("", overrides: [override]) == expected)
    }

    @Test func eachMessageTakesThePlaceholdersItsServiceFills() throws {
        let configuration = try Configuration.parse(text: """
            [greet]
            message = "{peer} {time} {clients} {{literal}}"
            [counter]
            message = "{count} {peer} {time} {clients}"
            [broadcast]
            message = "{seq} {time} {clients}"
            greeting = "{seq} {time} {clients} {peer}"
            """, file: "t.toml", overrides: [])
        #expect(configuration.greet.message.placeholders == [.peer, .time, .clients])
        #expect(configuration.counter.message.placeholders == [.count, .peer, .time, .clients])
        #expect(configuration.broadcast.message.placeholders == [.seq, .time, .clients])
        #expect(configuration.broadcast.greeting?.placeholders == [.seq, .time, .clients, .peer])
    }

    @Test func anEmptyGreetingIsNone() throws {
        let configuration = try Configuration.parse(text: "[broadcast]\ngreeting = ''", file: "t.toml", overrides: [])
        #expect(configuration.broadcast.greeting == nil)
        #expect(configuration.rendered().contains("greeting = \"\" "))
    }

    @Test(arguments: [
        // (source text, scalar offset in the decoded string, source offset from the value's start)
        ("\"abc\"", 0, 1), ("\"abc\"", 2, 3), ("'abc'", 2, 3), ("abc", 2, 2),
        ("\"\\n{x}\"", 1, 3), ("\"\\u00e9{x}\"", 1, 7), ("\"\\U0001F600{x}\"", 1, 11), ("\"\\\\\\\"{x}\"", 2, 5),
        ("'\\n{x}'", 2, 3), ("\"é{x}\"", 1, 2),
    ])
    func sourceOffsetsCountEscapesAsWritten(source: String, offset: Int, expected: Int) {
        #expect(Setting.sourceOffset(ofScalar: offset, inStringWrittenAs: source) == expected)
    }
}
