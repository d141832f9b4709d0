// `--set TABLE.KEY=VALUE`: reaches every key, takes TOML or (for keys that take strings) bare
// text, applies in order after the file, is validated only once all are in, and reports errors
// at columns of the override's own text.

import Testing
@testable import RingdConfig
import RingdServices

@Suite struct OverrideTests {
    private func configuration(_ overrides: [String], file text: String = "") throws -> Configuration {
        try Configuration.parse(text: text, file: "t.toml", overrides: overrides)
    }

    @Test func everyKindOfValue() throws {
        let configuration = try configuration([
            "server.mode=greet", "server.listen=[::1]:7001", "server.workers=6", "server.pin_workers=false",
            "server.backlog=1_024", "server.max_connections=0x10", "server.log_level=trace",
            "io.submission_entries=1024", "io.completion_entries=8192", "io.buffer_count=64",
            "io.buffer_size=8KiB", "io.send_gather=8", "io.receive_bundles=false", "io.output_limit=2MiB",
            "io.output_cap=4MiB", "io.output_memory=512MiB",
            "echo.lines=true", "echo.line_numbers=true", "echo.max_line=1KiB", "echo.access_log=true",
            "greet.message=hello {peer}", "counter.message=\"{count}\\n\"", "broadcast.interval=2s",
            "broadcast.message='{seq}'", "broadcast.greeting=hi", "relay.notices=false", "relay.welcome=false",
            "relay.max_line=100", "access.allow=127.0.0.0/8", "access.deny=[\"127.0.0.2\", \"::/0\"]",
        ])
        #expect(configuration.server == ServerSettings(
            mode: .greet, listen: [try ListenAddress(parsing: "[::1]:7001")], unixMode: FileMode(bits: 0o660)!, workers: .count(6), pinWorkers: false, incomingCPU: false,
            backlog: 1024, maxConnections: 16, busyMessage: nil, drainTimeout: .seconds(5), controlSocket: nil, idleTimeout: .seconds(300), logLevel: .trace))
        #expect(configuration.io == IOSettings(
            submissionEntries: 1024, completionEntries: 8192, bufferCount: 64, bufferSize: 8192, bulkBufferCount: 64, bulkBufferSize: 64 << 10, receiveBundles: false, sendGather: 8, batchWait: .zero, outputLimit: 2 << 20,
            outputCap: 4 << 20, outputSoftCap: 256 << 10, outputSoftTime: .seconds(30), outputMemory: 512 << 20))
        #expect(configuration.echo == EchoSettings(lines: true, lineNumbers: true, maxLine: 1024, accessLog: true))
        #expect(configuration.greet.message.text == "hello {peer}")
        #expect(configuration.counter.message.text == "{count}\n")
        #expect(configuration.broadcast.interval == .seconds(2))
        #expect(configuration.broadcast.message.text == "{seq}")
        #expect(configuration.broadcast.greeting?.text == "hi")
        #expect(configuration.relay == RelaySettings(notices: false, welcome: false, maxLine: 100))
        #expect(configuration.access == AccessSettings(
            allow: [try AddressRange(parsing: "127.0.0.0/8")],
            deny: [try AddressRange(parsing: "127.0.0.2/32"), try AddressRange(parsing: "::/0")]))
    }

    @Test func stringsMayBeBareOrQuoted() throws {
        #expect(try configuration(["server.mode=counter"]).server.mode == .counter)
        #expect(try configuration(["server.mode=\"counter\""]).server.mode == .counter)
        #expect(try configuration(["server.mode='relay'"]).server.mode == .relay)
        #expect(try configuration(["server.workers=auto"], file: "[server]\nworkers = 3").server.workers == .auto)
        #expect(try configuration(["server.workers=\"auto\""], file: "[server]\nworkers = 3").server.workers == .auto)
        #expect(try configuration(["io.buffer_size=\"16KiB\""]).io.bufferSize == 16384)
        #expect(try configuration(["io.buffer_size=2048"]).io.bufferSize == 2048)
        #expect(try configuration(["  server.backlog = 10  "]).server.backlog == 10)
        // Messages: bare text is taken as written; a quoted one is a TOML string, escapes and all.
        #expect(try configuration(["greet.message=hi {peer}\\n"]).greet.message.text == "hi {peer}\\n")
        #expect(try configuration(["greet.message=\"hi {peer}\\n\""]).greet.message.text == "hi {peer}\n")
        #expect(try configuration(["greet.message={peer} says hi"]).greet.message.text == "{peer} says hi")
        #expect(try configuration(["broadcast.greeting=\"\""], file: "[broadcast]\ngreeting = \"hi\"").broadcast.greeting == nil)
    }

    @Test func listenTakesOneBareAddressOrATOMLArray() throws {
        #expect(try configuration(["server.listen=0.0.0.0:9000"]).server.listen == [try ListenAddress(parsing: "0.0.0.0:9000")])
        #expect(try configuration(["server.listen=[\"127.0.0.1:1\", \"[::1]:2\"]"]).server.listen
            == [try ListenAddress(parsing: "127.0.0.1:1"), try ListenAddress(parsing: "[::1]:2")])
        // A quoted address is a TOML string, and listen takes an array of them, as in a file.
        #expect(configurationError("", overrides: ["server.listen=\"127.0.0.1:3\""])
            == "--set server.listen=\"127.0.0.1:3\":1:15: wrong type for server.listen: expected an array of addresses such as [\"127.0.0.1:7000\"], found a string")
    }

    @Test func laterSettingsWin() throws {
        #expect(try configuration(["server.workers=2", "server.workers=3"]).server.workers == .count(3))
        #expect(try configuration(["server.workers=5"], file: "[server]\nworkers = 2").server.workers == .count(5))
        #expect(try configuration([], file: "[server]\nworkers = 2").server.workers == .count(2))
    }

    @Test func validationHappensAfterEveryOverride() throws {
        // An override may replace a value the file gets wrong.
        #expect(try configuration(["server.backlog=10"], file: "[server]\nbacklog = 0").server.backlog == 10)
        #expect(try configuration(["server.backlog=10"], file: "[server]\nbacklog = \"many\"").server.backlog == 10)
        // The second alone breaks completion >= 4 x submission (4 x 16384 against the default
        // 32768); with the first it is fine, in either order.
        let raised = ["io.completion_entries=65536", "io.submission_entries=16384"]
        #expect(configurationError("", overrides: [raised[1]]) != nil)
        #expect(try configuration(raised).io.submissionEntries == 16384)
        #expect(try configuration(raised.reversed()).io.completionEntries == 65536)
        // But the file's tables and keys must still exist.
        #expect(configurationError("[server]\nwokers = 2", overrides: ["server.workers=2"])
            == "t.toml:2:1: unknown key 'wokers' in [server] (did you mean 'workers'?)")
    }

    @Test(arguments: [
        ("server.workers=x", "--set server.workers=x:1:16: server.workers = \"x\" is neither \"auto\" nor an integer"),
        ("server.wokers=4", "--set server.wokers=4:1:8: unknown key 'wokers' in [server] (did you mean 'workers'?)"),
        ("sever.workers=4", "--set sever.workers=4:1:1: unknown table [sever] (did you mean [server]?)"),
        ("workers=4",
         "--set workers=4:1:8: expected '.' after 'workers', found '=' (overrides are written TABLE.KEY=VALUE, such as server.workers=4; did you mean server.workers?)"),
        ("server.workers",
         "--set server.workers:1:15: expected '=' after 'server.workers', found the end of the override (overrides are written TABLE.KEY=VALUE, such as server.workers=4)"),
        ("server.mode.x=1",
         "--set server.mode.x=1:1:12: expected '=' after 'server.mode', found '.' (overrides are written TABLE.KEY=VALUE, such as server.workers=4)"),
        ("", "--set :1:1: expected TABLE.KEY=VALUE, found the end of the override"),
        ("\"server\".mode=echo", "--set \"server\".mode=echo:1:1: quoted keys are not supported by TOML-lite"),
        ("server.pin_workers=yes",
         "--set server.pin_workers=yes:1:20: wrong type for server.pin_workers: expected true or false, found 'yes'"),
        ("server.backlog=big", "--set server.backlog=big:1:16: wrong type for server.backlog: expected an integer, found 'big'"),
        ("server.backlog=0", "--set server.backlog=0:1:16: server.backlog = 0 is out of range (1...65535)"),
        ("server.backlog=1.5", "--set server.backlog=1.5:1:16: floats are not supported by TOML-lite"),
        ("server.backlog=10 20", "--set server.backlog=10 20:1:19: expected the end of the override after the value, found '2'"),
        ("server.mode=\"greet",
         "--set server.mode=\"greet:1:19: unterminated string (opened at 1:13): expected '\"' before the end of the override"),
        ("server.mode=true", "--set server.mode=true:1:13: wrong type for server.mode: expected a string, found a boolean"),
        ("server.mode=gret",
         "--set server.mode=gret:1:13: server.mode = \"gret\" is not one of greet, counter, echo, broadcast, relay (did you mean \"greet\"?)"),
        ("server.listen=localhost:80",
         "--set server.listen=localhost:80:1:15: server.listen[0] = \"localhost:80\" is not an address: host 'localhost' is not an IPv4 or IPv6 address (names are not resolved)"),
        ("io.buffer_size=4KB",
         "--set io.buffer_size=4KB:1:16: io.buffer_size = \"4KB\" is not a size: expected an integer with B, KiB, MiB or GiB, such as \"4KiB\""),
        ("io.completion_entries=64",
         "--set io.completion_entries=64:1:1: io.completion_entries (64) must be at least 4 x io.submission_entries (4 x 512 = 2048)"),
    ])
    func errorsPointIntoTheOverride(override: String, expected: String) {
        #expect(configurationError("", overrides: [override]) == expected)
    }

    /// Found by tools/fuzz: a --set value of nested arrays deep enough crashed a release build.
    @Test func deeplyNestedArraysInAnOverrideAreAnError() {
        let override = "io.buffer_count=" + String(repeating: "[", count: 100_000)
        #expect(configurationError("", overrides: [override])?.hasSuffix(
            ":1:49: arrays nested more than 32 deep are not supported by TOML-lite") == true)
    }

    @Test func theFirstBadOverrideIsReported() {
        #expect(configurationError("", overrides: ["server.backlog=5", "nope.x=1", "server.workers=x"])
            == "--set nope.x=1:1:1: unknown table [nope]")
    }
}
