// Valid configurations: the defaults, files that set every key, every way a value may be written,
// loading from disk, and rendering back to a document that parses to the same configuration.

import Foundation
import Testing
@testable import RingdConfig
import RingdServices

@Suite struct ConfigurationTests {
    private func parse(_ text: String, overrides: [String] = []) throws -> Configuration {
        try Configuration.parse(text: text, file: "t.toml", overrides: overrides)
    }

    @Test func defaultsAreTheDocumentedOnes() throws {
        let defaults = Configuration.defaults
        #expect(defaults.server == ServerSettings(
            mode: .echo, listen: [try ListenAddress(parsing: "127.0.0.1:7000")], unixMode: FileMode(bits: 0o660)!, workers: .auto, pinWorkers: true, incomingCPU: false,
            backlog: 4096, maxConnections: 16384, busyMessage: nil, drainTimeout: .seconds(5), controlSocket: nil, idleTimeout: .seconds(300), logLevel: .info))
        #expect(defaults.io == IOSettings(
            submissionEntries: 512, completionEntries: 32768, bufferCount: 1024, bufferSize: 4096, bulkBufferCount: 64, bulkBufferSize: 64 << 10, receiveBundles: true, sendGather: 32, batchWait: .zero, outputLimit: 1 << 20,
            outputCap: 1 << 20, outputSoftCap: 256 << 10, outputSoftTime: .seconds(30), outputMemory: 64 << 20))
        #expect(defaults.echo == EchoSettings(lines: false, lineNumbers: false, maxLine: 64 << 10, accessLog: false))
        #expect(defaults.greet.message.text == "Hello from ringd, {peer}\n")
        #expect(defaults.counter.message.text == "{count} connections before you\n")
        #expect(defaults.broadcast.interval == .seconds(1))
        #expect(defaults.broadcast.message.text == "seq={seq} time={time} clients={clients}\n")
        #expect(defaults.broadcast.greeting == nil)
        #expect(defaults.relay == RelaySettings(notices: true, welcome: true, maxLine: 4 << 10))
        #expect(defaults.access == AccessSettings(allow: [], deny: []))
        // echo.max_line (64KiB) + 64 bytes, rounded up to a power of two.
        #expect(defaults.outputChunkSize == 128 << 10)
    }

    @Test func anEmptyFileAndNoFileBothGiveTheDefaults() throws {
        #expect(try parse("") == .defaults)
        #expect(try parse("# nothing but a comment\n[server]\n[io]\n") == .defaults)
        #expect(try Configuration.load(file: nil, overrides: []) == .defaults)
    }

    @Test func everyFieldHasAKeyInTheSchema() {
        // Configuration's fields are the schema's tables, and each settings struct has exactly one
        // field per key: a field without a key would silently keep its placeholder.
        let tables = Mirror(reflecting: Configuration.defaults).children
        #expect(tables.compactMap(\.label) == Schema.tableNames)
        for table in tables {
            let fields = Mirror(reflecting: table.value).children.count
            #expect(fields == Schema.keys(in: table.label!).count, "[\(table.label!)]")
        }
    }

    @Test func aFileSettingEveryKey() throws {
        let configuration = try parse("""
            # every key, none at its default
            [server]
            mode = "relay"
            listen = [
                "0.0.0.0:80",
                "[::]:8080",   # IPv6 any
                '[::1]:0',
            ]
            workers = 8
            pin_workers = false
            backlog = 128
            max_connections = 1_048_576
            log_level = "debug"

            [io]
            submission_entries = 0x400
            completion_entries = 8192
            buffer_count = 1
            buffer_size = "64KiB"
            output_limit = "1GiB"
            output_cap = "2MiB"
            output_memory = "1GiB"

            [echo]
            lines = true
            line_numbers = true
            max_line = "16MiB"
            access_log = true

            [greet]
            message = "hi {peer} at {time}, {clients} here\\r\\n"

            [counter]
            message = '#{count}'

            [broadcast]
            interval = "250ms"
            message = "tick {seq}\\n"
            greeting = "welcome {peer}, {{tick}} {seq}\\n"

            [relay]
            notices = false
            welcome = false
            max_line = "64KiB"

            [access]
            allow = ["10.0.0.0/8", "::1"]
            deny = [
                "10.0.0.66/32",
                "2001:db8::/32",
            ]
            """)
        #expect(configuration.server == ServerSettings(
            mode: .relay,
            listen: [try ListenAddress(parsing: "0.0.0.0:80"), try ListenAddress(parsing: "[::]:8080"),
                     try ListenAddress(parsing: "[::1]:0")],
            unixMode: FileMode(bits: 0o660)!, workers: .count(8), pinWorkers: false, incomingCPU: false, backlog: 128, maxConnections: 1_048_576, busyMessage: nil, drainTimeout: .seconds(5), controlSocket: nil, idleTimeout: .seconds(300), logLevel: .debug))
        #expect(configuration.io == IOSettings(
            submissionEntries: 1024, completionEntries: 8192, bufferCount: 1, bufferSize: 64 << 10, bulkBufferCount: 64, bulkBufferSize: 64 << 10, receiveBundles: true, sendGather: 32, batchWait: .zero, outputLimit: 1 << 30,
            outputCap: 2 << 20, outputSoftCap: 256 << 10, outputSoftTime: .seconds(30), outputMemory: 1 << 30))
        #expect(configuration.echo == EchoSettings(lines: true, lineNumbers: true, maxLine: 16 << 20, accessLog: true))
        #expect(configuration.greet.message.text == "hi {peer} at {time}, {clients} here\r\n")
        #expect(configuration.counter.message.text == "#{count}")
        #expect(configuration.broadcast.interval == .milliseconds(250))
        #expect(configuration.broadcast.message.text == "tick {seq}\n")
        #expect(configuration.broadcast.greeting?.text == "welcome {peer}, {{tick}} {seq}\n")
        #expect(configuration.relay == RelaySettings(notices: false, welcome: false, maxLine: 64 << 10))
        #expect(configuration.access == AccessSettings(
            allow: [try AddressRange(parsing: "10.0.0.0/8"), try AddressRange(parsing: "::1/128")],
            deny: [try AddressRange(parsing: "10.0.0.66"), try AddressRange(parsing: "2001:db8::/32")]))
        #expect(configuration.access.list.decide(try IPAddress(parsing: "10.1.2.3")) == .allow)
        #expect(configuration.access.list.decide(try IPAddress(parsing: "10.0.0.66")) == .deny)
        #expect(configuration.access.list.decide(try IPAddress(parsing: "192.168.0.1")) == .deny)
        #expect(configuration.access.list.decide(try IPAddress(parsing: "::1")) == .allow)
        // echo.max_line (16MiB) + 64 bytes, rounded up.
        #expect(configuration.outputChunkSize == 32 << 20)
    }

    @Test(arguments: [
        ("\"512B\"", 512), ("\"512\"", 512), ("512", 512), ("\"4KiB\"", 4096), ("'8KiB'", 8192),
        ("\"1MiB\"", 1 << 20), ("0x1000", 4096), ("\"1048576B\"", 1 << 20),
    ])
    func sizesAreStringsWithUnitsOrIntegersOfBytes(text: String, bytes: Int) throws {
        #expect(try parse("[io]\nbuffer_size = \(text)\n").io.bufferSize == bytes)
    }

    @Test func everyModeAndLogLevel() throws {
        for mode in ServiceMode.allCases {
            #expect(try parse("[server]\nmode = \"\(mode.rawValue)\"").server.mode == mode)
        }
        for level in LogLevel.allCases {
            #expect(try parse("[server]\nlog_level = '\(level.rawValue)'").server.logLevel == level)
        }
    }

    @Test func workersAreAutoOrACount() throws {
        #expect(try parse("[server]\nworkers = \"auto\"").server.workers == .auto)
        #expect(try parse("[server]\nworkers = 1").server.workers == .count(1))
        #expect(try parse("[server]\nworkers = 1024").server.workers == .count(1024))
    }

    @Test func boundariesOfRangesAreAccepted() throws {
        let low = try parse("""
            [server]
            backlog = 1
            max_connections = 1
            [io]
            submission_entries = 8
            completion_entries = 32
            buffer_count = 1
            buffer_size = "512B"
            send_gather = 1
            receive_bundles = false
            output_limit = 512
            output_cap = 512
            output_memory = "256KiB"
            [echo]
            max_line = "1B"
            [broadcast]
            interval = "1ms"
            message = "."
            [relay]
            max_line = 1
            """)
        #expect(low.server.backlog == 1 && low.server.maxConnections == 1)
        #expect(low.io == IOSettings(submissionEntries: 8, completionEntries: 32, bufferCount: 1, bufferSize: 512, bulkBufferCount: 64, bulkBufferSize: 64 << 10, receiveBundles: false, sendGather: 1, batchWait: .zero, outputLimit: 512,
                                  outputCap: 512, outputSoftCap: 256 << 10, outputSoftTime: .seconds(30), outputMemory: 256 << 10))
        #expect(low.echo.maxLine == 1)
        #expect(low.broadcast.interval == .milliseconds(1) && low.broadcast.message.text == ".")
        #expect(low.relay.maxLine == 1)
        #expect(low.outputChunkSize == 64 << 10)
        let high = try parse("""
            [server]
            backlog = 65535
            [io]
            submission_entries = 16384
            completion_entries = 65536
            buffer_count = 32768
            buffer_size = "1MiB"
            output_cap = "1GiB"
            output_memory = "16GiB"
            [echo]
            max_line = "16MiB"
            [broadcast]
            interval = "24h"
            [relay]
            max_line = "1MiB"
            """)
        #expect(high.server.backlog == 65535)
        #expect(high.io.completionEntries == 65536 && high.io.bufferCount == 32768 && high.io.bufferSize == 1 << 20)
        #expect(high.io.outputCap == 1 << 30 && high.io.outputMemory == 1 << 34)
        #expect(high.echo.maxLine == 16 << 20 && high.relay.maxLine == 1 << 20)
        #expect(high.broadcast.interval == .seconds(86400))
    }

    @Test func renderedDefaultsParseBackToTheDefaults() throws {
        let text = Configuration.defaults.rendered()
        #expect(try parse(text) == .defaults)
        #expect(text.contains("mode = \"echo\""))
        #expect(text.contains("listen = [\"127.0.0.1:7000\"]"))
        #expect(text.contains("buffer_size = \"4KiB\""))
    }

    @Test func renderedConfigurationsParseBackToThemselves() throws {
        var configuration = Configuration.defaults
        configuration.server.mode = .broadcast
        configuration.server.listen = [try ListenAddress(parsing: "[fe80::1]:1"), try ListenAddress(parsing: "10.0.0.1:65535")]
        configuration.server.workers = .count(3)
        configuration.server.logLevel = .critical
        configuration.io.bufferSize = 1000
        configuration.io.outputLimit = 3 << 20
        configuration.echo.maxLine = 1
        configuration.echo.accessLog = true
        configuration.greet.message = try MessageTemplate(parsing: "\"quoted\" \\ {peer}\t{{}}\u{7}\n")
        configuration.broadcast.interval = .milliseconds(1500)
        configuration.broadcast.greeting = try MessageTemplate(parsing: "hello {peer}\n")
        configuration.relay.welcome = false
        configuration.access.deny = [try AddressRange(parsing: "192.168.0.0/16"), try AddressRange(parsing: "fe80::/10")]
        let text = configuration.rendered()
        #expect(try parse(text) == configuration)
        #expect(try parse(text).greet.message.text == configuration.greet.message.text)
        #expect(text.contains(#"message = "\"quoted\" \\ {peer}\t{{}}\u0007\n""#))
        #expect(text.contains("interval = \"1500ms\""))
        #expect(text.contains("greeting = \"hello {peer}\\n\""))
        #expect(text.contains("deny = [\"192.168.0.0/16\", \"fe80::/10\"]"))
        #expect(text.contains("listen = [\"[fe80::1]:1\", \"10.0.0.1:65535\"]"))
        #expect(text.contains("workers = 3 "))
        #expect(text.contains("buffer_size = \"1000B\""))
        #expect(text.contains("output_limit = \"3MiB\""))
    }

    @Test func renderingListsEveryKeyOnceWithItsDocumentation() throws {
        let document = try TOMLLite.parse(Configuration.defaults.rendered(), file: "rendered")
        #expect(document.tables.map(\.name) == Schema.tableNames)
        for key in Schema.keys {
            #expect(document[key.table]?[key.name]?.value == key.defaultValue, "\(key.path)")
        }
        let lines = Configuration.defaults.rendered().split(separator: "\n")
        #expect(lines.contains("backlog = 4096                # listen(2) backlog (1...65535)"))
    }

    @Test func loadReadsAFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ringd-config-\(UUID().uuidString).toml")
        try "[server]\nmode = \"greet\"\nworkers = 2\n".write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let configuration = try Configuration.load(file: url.path, overrides: ["server.workers=4"])
        #expect(configuration.server.mode == .greet)
        #expect(configuration.server.workers == .count(4))
    }

    /// The bytes EF BB BF that some editors put at the start of a UTF-8 file.
    @Test func loadReadsAFileThatStartsWithAByteOrderMark() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ringd-config-\(UUID().uuidString).toml")
        try Data([0xEF, 0xBB, 0xBF] + Array("[server]\nmode = \"relay\"\n".utf8)).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try Configuration.load(file: url.path, overrides: []).server.mode == .relay)
    }
}
