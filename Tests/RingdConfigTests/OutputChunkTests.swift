// Output memory: the chunk size follows the longest line ringd can render, and the rules that
// tie io.output_memory and io.output_cap to it refuse configurations a reply could not fit.

import Testing
@testable import RingdConfig
import RingdServices

@Suite struct OutputChunkTests {
    private func parse(_ text: String, overrides: [String] = []) throws -> Configuration {
        try Configuration.parse(text: text, file: "t.toml", overrides: overrides)
    }

    @Test(arguments: [
        // (file, chunk size): max(64KiB, the longest rendered line rounded up to a power of two)
        ("", 128 << 10),  // echo.max_line 64KiB + 64 is just over 64KiB
        ("[echo]\nmax_line = 65472", 64 << 10),  // + 64 = 64KiB exactly
        ("[echo]\nmax_line = 65473", 128 << 10),
        ("[echo]\nmax_line = 1\n[relay]\nmax_line = 1", 64 << 10),
        // A relay event renders up to two lines into one chunk.
        ("[echo]\nmax_line = \"4KiB\"\n[relay]\nmax_line = \"512KiB\"", 2 << 20),
        ("[io]\noutput_cap = \"2MiB\"\n[relay]\nmax_line = \"1MiB\"", 4 << 20),
        ("[io]\noutput_memory = \"1GiB\"\n[echo]\nmax_line = \"16MiB\"", 32 << 20),
        ("[greet]\nmessage = \"" + String(repeating: "g", count: 200_000) + "\"", 256 << 10),
    ])
    func chunkSizeFollowsTheLongestLine(text: String, chunk: Int) throws {
        #expect(try parse(text).outputChunkSize == chunk)
    }

    @Test func aTemplateCountsAtItsLongestRendering() throws {
        // 65500 bytes of text and {peer} (up to 45 bytes): more than 64KiB with echo lines short.
        let message = String(repeating: "m", count: 65_500) + "{peer}"
        let configuration = try parse("[echo]\nmax_line = 1\n[broadcast]\ngreeting = \"\(message)\"")
        #expect(configuration.broadcast.greeting!.maximumRenderedCount > 64 << 10)
        #expect(configuration.outputChunkSize == 128 << 10)
    }

    @Test(arguments: [1, 15, 16, 100, 4096, 65472, 1 << 20, 16 << 20])
    func aChunkHoldsEveryServiceLine(maxLine: Int) {
        var configuration = Configuration.defaults
        configuration.echo.maxLine = maxLine
        configuration.relay.maxLine = min(maxLine, 1 << 20)
        let chunk = configuration.outputChunkSize
        #expect(chunk >= EchoLines.maximumReplyCount(maxLine: configuration.echo.maxLine))
        #expect(chunk >= RelayFormat.maximumLineCount(maxLine: configuration.relay.maxLine))
        #expect(chunk & (chunk - 1) == 0)
        // What io.output_cap is checked against covers a relay line, given its 512-byte floor.
        #expect(max(512, configuration.longestPushedLine.bytes) >= RelayFormat.maximumLineCount(maxLine: configuration.relay.maxLine))
    }

    @Test(arguments: [
        ("[echo]\nmax_line = \"16MiB\"",
         "t.toml:2:1: io.output_memory (64MiB) must be at least 4 x the output chunk size (4 x 32MiB = 128MiB); a chunk is the longest line ringd renders rounded up to a power of two, here 16777280B (echo.max_line (16MiB) + 64 bytes); that line follows echo.max_line, relay.max_line, greet.message, counter.message, broadcast.message and broadcast.greeting"),
        // Reported where the last of the keys involved is set.
        ("[echo]\nmax_line = \"16MiB\"\n[io]\n  output_memory = \"100MiB\"",
         "t.toml:4:3: io.output_memory (100MiB) must be at least 4 x the output chunk size (4 x 32MiB = 128MiB); a chunk is the longest line ringd renders rounded up to a power of two, here 16777280B (echo.max_line (16MiB) + 64 bytes); that line follows echo.max_line, relay.max_line, greet.message, counter.message, broadcast.message and broadcast.greeting"),
        ("[io]\noutput_memory = \"1MiB\"\n[greet]\nmessage = \"" + String(repeating: "g", count: 300_000) + "\"",
         "t.toml:4:1: io.output_memory (1MiB) must be at least 4 x the output chunk size (4 x 512KiB = 2MiB); a chunk is the longest line ringd renders rounded up to a power of two, here 300000B (the longest rendering of greet.message); that line follows echo.max_line, relay.max_line, greet.message, counter.message, broadcast.message and broadcast.greeting"),
        ("[io]\noutput_memory = \"128KiB\"", "t.toml:2:17: io.output_memory = \"128KiB\" is out of range (256KiB...16GiB)"),
        ("[io]\noutput_cap = \"2KiB\"", "t.toml:2:1: io.output_cap (2KiB) must be at least io.buffer_size (4KiB)"),
        ("[io]\noutput_cap = \"64KiB\"\nbuffer_size = \"128KiB\"", "t.toml:3:1: io.output_cap (64KiB) must be at least io.buffer_size (128KiB)"),
        ("[relay]\nmax_line = \"1MiB\"",
         "t.toml:2:1: io.output_cap (1MiB) must be at least the longest line sent to a broadcast or relay client, here 1048640B (relay.max_line (1MiB) + 64 bytes); that line follows relay.max_line, broadcast.message and broadcast.greeting"),
        ("[io]\noutput_cap = \"4KiB\"\n[broadcast]\nmessage = \"" + String(repeating: "b", count: 5000) + "{seq}\"",
         "t.toml:4:1: io.output_cap (4KiB) must be at least the longest line sent to a broadcast or relay client, here 5020B (the longest rendering of broadcast.message); that line follows relay.max_line, broadcast.message and broadcast.greeting"),
    ])
    func rulesNameEveryKeyInvolved(text: String, expected: String) {
        #expect(configurationError(text) == expected)
    }

    @Test func overridesCanSatisfyTheRules() throws {
        #expect(configurationError("", overrides: ["io.output_memory=256KiB"])
            == "--set io.output_memory=256KiB:1:1: io.output_memory (256KiB) must be at least 4 x the output chunk size (4 x 128KiB = 512KiB); a chunk is the longest line ringd renders rounded up to a power of two, here 65600B (echo.max_line (64KiB) + 64 bytes); that line follows echo.max_line, relay.max_line, greet.message, counter.message, broadcast.message and broadcast.greeting")
        #expect(try parse("", overrides: ["io.output_memory=256KiB", "echo.max_line=4KiB"]).outputChunkSize == 64 << 10)
        #expect(try parse("[relay]\nmax_line = \"1MiB\"", overrides: ["io.output_cap=2MiB"]).relay.maxLine == 1 << 20)
    }
}
