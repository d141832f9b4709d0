// Every kind of configuration error with its exact `FILE:LINE:COL: message`: unknown tables and
// keys with suggestions, wrong types, ranges, bad addresses, rules between keys, unreadable files.

import Foundation
import Testing
import RingdConfig

@Suite struct ConfigurationErrorTests {
    @Test(arguments: [
        ("[server]\nwokers = 4", "t.toml:2:1: unknown key 'wokers' in [server] (did you mean 'workers'?)"),
        ("[server]\n  backlgo = 4", "t.toml:2:3: unknown key 'backlgo' in [server] (did you mean 'backlog'?)"),
        ("[server]\nMode = 'echo'", "t.toml:2:1: unknown key 'Mode' in [server] (did you mean 'mode'?)"),
        ("[server]\nthreads = 4", "t.toml:2:1: unknown key 'threads' in [server]"),
        ("[server]\nlines = true", "t.toml:2:1: unknown key 'lines' in [server] (it belongs in [echo])"),
        ("[io]\nbuffer = 4", "t.toml:2:1: unknown key 'buffer' in [io] (did you mean 'buffer_size'?)"),
        ("[io]\nbuffers_count = 4", "t.toml:2:1: unknown key 'buffers_count' in [io] (did you mean 'buffer_count'?)"),
        ("[server]\n[sever]", "t.toml:2:1: unknown table [sever] (did you mean [server]?)"),
        ("[eco]", "t.toml:1:1: unknown table [eco] (did you mean [echo]?)"),
        ("[limits]", "t.toml:1:1: unknown table [limits]"),
        ("workers = 4\n[server]", "t.toml:1:1: key 'workers' must be in a table (it belongs in [server])"),
        ("colour = 'blue'",
         "t.toml:1:1: unknown key 'colour' at the top level (every key belongs in a table: [server], [io], [echo], [greet], [counter], [broadcast], [relay], [access], [metrics], [cluster])"),
        ("[server]\nmode = \"echo\"\nmode = \"greet\"", "t.toml:3:1: duplicate key 'mode' in [server] (first set at 2:1)"),
        ("[io]\n[echo]\n[io]", "t.toml:3:1: duplicate table [io] (first defined at 1:1)"),
    ])
    func unknownAndDuplicateNames(text: String, expected: String) {
        #expect(configurationError(text) == expected)
    }

    @Test(arguments: [
        ("[server]\nbacklog = \"4096\"", "t.toml:2:11: wrong type for server.backlog: expected an integer, found a string"),
        ("[server]\nmode = 1", "t.toml:2:8: wrong type for server.mode: expected a string, found an integer"),
        ("[server]\npin_workers = \"yes\"",
         "t.toml:2:15: wrong type for server.pin_workers: expected true or false, found a string"),
        ("[server]\nworkers = true", "t.toml:2:11: wrong type for server.workers: expected \"auto\" or an integer, found a boolean"),
        ("[server]\nlisten = \"127.0.0.1:7000\"",
         "t.toml:2:10: wrong type for server.listen: expected an array of addresses such as [\"127.0.0.1:7000\"], found a string"),
        ("[server]\nlisten = [\n  [\"127.0.0.1:7000\"]]",
         "t.toml:3:3: wrong type for server.listen[0]: expected a string such as \"127.0.0.1:7000\", found an array"),
        ("[io]\nbuffer_size = [4096]", "t.toml:2:15: wrong type for io.buffer_size: expected a size such as \"4KiB\", found an array"),
        ("[echo]\nlines = 1", "t.toml:2:9: wrong type for echo.lines: expected true or false, found an integer"),
    ])
    func wrongTypes(text: String, expected: String) {
        #expect(configurationError(text) == expected)
    }

    @Test(arguments: [
        ("[server]\nbacklog = 0", "t.toml:2:11: server.backlog = 0 is out of range (1...65535)"),
        ("[server]\nbacklog = 65536", "t.toml:2:11: server.backlog = 65536 is out of range (1...65535)"),
        ("[server]\nmax_connections = -1", "t.toml:2:19: server.max_connections = -1 is out of range (1...1048576)"),
        ("[server]\nworkers = 0", "t.toml:2:11: server.workers = 0 is out of range (1...1024)"),
        ("[server]\nworkers = 1025", "t.toml:2:11: server.workers = 1025 is out of range (1...1024)"),
        ("[server]\nworkers = \"all\"", "t.toml:2:11: server.workers = \"all\" is neither \"auto\" nor an integer"),
        ("[io]\nsubmission_entries = 4", "t.toml:2:22: io.submission_entries = 4 is out of range (8...16384)"),
        ("[io]\nsubmission_entries = 100", "t.toml:2:22: io.submission_entries = 100 is not a power of two"),
        ("[io]\nbuffer_count = 3", "t.toml:2:16: io.buffer_count = 3 is not a power of two"),
        ("[io]\ncompletion_entries = 131072", "t.toml:2:22: io.completion_entries = 131072 is out of range (32...65536)"),
        ("[io]\nbuffer_size = \"256B\"", "t.toml:2:15: io.buffer_size = \"256B\" is out of range (512B...1MiB)"),
        ("[io]\nbuffer_size = \"2MiB\"", "t.toml:2:15: io.buffer_size = \"2MiB\" is out of range (512B...1MiB)"),
        ("[io]\nbuffer_size = 100", "t.toml:2:15: io.buffer_size = 100 is out of range (512B...1MiB)"),
        ("[echo]\nmax_line = \"0B\"", "t.toml:2:12: echo.max_line = \"0B\" is out of range (1B...16MiB)"),
        ("[io]\nbuffer_size = \"4KB\"",
         "t.toml:2:15: io.buffer_size = \"4KB\" is not a size: expected an integer with B, KiB, MiB or GiB, such as \"4KiB\""),
        ("[io]\nbuffer_size = \"4 KiB\"",
         "t.toml:2:15: io.buffer_size = \"4 KiB\" is not a size: expected an integer with B, KiB, MiB or GiB, such as \"4KiB\""),
        ("[io]\noutput_limit = \"99999999999GiB\"",
         "t.toml:2:16: io.output_limit = \"99999999999GiB\" is not a size: expected an integer with B, KiB, MiB or GiB, such as \"4KiB\""),
        ("[server]\nmode = \"gret\"",
         "t.toml:2:8: server.mode = \"gret\" is not one of greet, counter, echo, broadcast, relay (did you mean \"greet\"?)"),
        ("[server]\nmode = \"http\"", "t.toml:2:8: server.mode = \"http\" is not one of greet, counter, echo, broadcast, relay"),
        ("[server]\nlog_level = \"warn\"",
         "t.toml:2:13: server.log_level = \"warn\" is not one of trace, debug, info, notice, warning, error, critical (did you mean \"warning\"?)"),
    ])
    func valuesOutOfRangeOrInvalid(text: String, expected: String) {
        #expect(configurationError(text) == expected)
    }

    @Test(arguments: [
        ("[server]\nlisten = []", "t.toml:2:10: server.listen = [] is empty: expected at least one HOST:PORT or unix:/PATH"),
        ("[server]\nlisten = [\"localhost:7000\"]",
         "t.toml:2:11: server.listen[0] = \"localhost:7000\" is not an address: host 'localhost' is not an IPv4 or IPv6 address (names are not resolved)"),
        ("[server]\nlisten = [\"127.0.0.1\"]",
         "t.toml:2:11: server.listen[0] = \"127.0.0.1\" is not an address: expected HOST:PORT or unix:/PATH, such as 127.0.0.1:7000, [::1]:7000 or unix:/run/ringd/echo.sock"),
        ("[server]\nlisten = [\"127.0.0.1:70000\"]",
         "t.toml:2:11: server.listen[0] = \"127.0.0.1:70000\" is not an address: port '70000' is not a number 0...65535"),
        ("[server]\nlisten = [\"::1:7000\"]",
         "t.toml:2:11: server.listen[0] = \"::1:7000\" is not an address: an IPv6 address is written in brackets before the port, as in [::1]:7000"),
        ("[server]\nlisten = [\n  \"127.0.0.1:7000\",\n  \"127.0.0.1:7000\",\n]",
         "t.toml:4:3: server.listen[1] = \"127.0.0.1:7000\" repeats [0] (127.0.0.1:7000)"),
        ("[server]\nlisten = [\"[::1]:1\", \"[0:0::1]:1\"]",
         "t.toml:2:22: server.listen[1] = \"[0:0::1]:1\" repeats [0] ([::1]:1)"),
    ])
    func listenAddresses(text: String, expected: String) {
        #expect(configurationError(text) == expected)
    }

    @Test func completionEntriesMustBeFourTimesSubmissionEntries() {
        let message = "io.completion_entries (1024) must be at least 4 x io.submission_entries (4 x 512 = 2048)"
        // Reported where the later of the two keys is set.
        #expect(configurationError("[io]\ncompletion_entries = 1024") == "t.toml:2:1: " + message)
        #expect(configurationError("[io]\nsubmission_entries = 512\n  completion_entries = 1024") == "t.toml:3:3: " + message)
        #expect(configurationError("[io]\ncompletion_entries = 1024\nsubmission_entries = 512") == "t.toml:3:1: " + message)
        #expect(configurationError("[io]\ncompletion_entries = 1024", overrides: ["io.submission_entries=512"])
            == "--set io.submission_entries=512:1:1: " + message)
        #expect(configurationError("[io]\nsubmission_entries = 16384\n")
            == "t.toml:2:1: io.completion_entries (32768) must be at least 4 x io.submission_entries (4 x 16384 = 65536)")
    }

    @Test func outputLimitMustHoldAReceiveBuffer() {
        #expect(configurationError("[io]\noutput_limit = \"2KiB\"")
            == "t.toml:2:1: io.output_limit (2KiB) must be at least io.buffer_size (4KiB)")
        #expect(configurationError("[io]\noutput_limit = \"64KiB\"\nbuffer_size = \"128KiB\"")
            == "t.toml:3:1: io.output_limit (64KiB) must be at least io.buffer_size (128KiB)")
    }

    @Test func theFirstErrorInTheFileIsReported() {
        #expect(configurationError("[server]\nbacklog = 0\nworkers = 0") == "t.toml:2:11: server.backlog = 0 is out of range (1...65535)")
        #expect(configurationError("[server]\nworkers = 0\nbacklog = 0") == "t.toml:2:11: server.workers = 0 is out of range (1...1024)")
    }

    @Test func errorsCarryTheirParts() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try Configuration.parse(text: "[server]\nbacklog = 0\n", file: "conf/x.toml", overrides: [])
        }
        #expect(error.file == "conf/x.toml")
        #expect(error.line == 2)
        #expect(error.column == 11)
        #expect(error.message == "server.backlog = 0 is out of range (1...65535)")
        #expect(error.description == "conf/x.toml:2:11: server.backlog = 0 is out of range (1...65535)")
    }

    @Test func unreadableFilesNameTheFileAndTheReason() throws {
        let missing = try #require(throws: ConfigurationError.self) {
            try Configuration.load(file: "conf/does-not-exist.toml", overrides: [])
        }
        #expect(missing.description == "cannot read conf/does-not-exist.toml: No such file or directory")
        #expect(missing.file == "conf/does-not-exist.toml")
        #expect(missing.line == 0)

        let directory = FileManager.default.temporaryDirectory.path
        let notAFile = try #require(throws: ConfigurationError.self) {
            try Configuration.load(file: directory, overrides: [])
        }
        #expect(notAFile.description == "cannot read \(directory): Is a directory")
    }

    @Test func filesMustBeUTF8() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ringd-config-\(UUID().uuidString).toml")
        try Data("[server]\nmode = \"é\u{FF}".utf8 + [0xFF, 0x0A]).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let error = try #require(throws: ConfigurationError.self) {
            try Configuration.load(file: url.path, overrides: [])
        }
        #expect(error.description == "\(url.path):2:11: invalid UTF-8 (byte 0xFF)")
    }
}
