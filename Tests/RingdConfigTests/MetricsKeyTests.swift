// metrics.listen: off by default, one HOST:PORT (port 0 allowed, IPv6 in brackets), or "" for
// off; errors name the key and the position; it may not share a port with server.listen.

import Testing

@testable import RingdConfig

@Suite struct MetricsKeyTests {
    @Test func offByDefault() {
        #expect(Configuration.defaults.metrics.listen == nil)
    }

    @Test(arguments: [
        ("127.0.0.1:9464", "127.0.0.1:9464"), ("127.0.0.1:0", "127.0.0.1:0"), ("[::1]:9464", "[::1]:9464"), ("", nil),
    ])
    func addresses(text: String, expected: String?) throws {
        let configuration = try Configuration.parse(text: "[metrics]\nlisten = \"\(text)\"\n", file: "t.toml", overrides: [])
        #expect(configuration.metrics.listen?.description == expected)
        let set = try Configuration.parse(text: "", file: "t.toml", overrides: ["metrics.listen=\(text)"])
        #expect(set.metrics.listen?.description == expected)
    }

    @Test func errorsNameTheKeyAndPosition() {
        #expect(
            configurationError("[metrics]\nlisten = 9464\n")
                == #"t.toml:2:10: wrong type for metrics.listen: expected a string such as "127.0.0.1:9464", or "" for none, found an integer"#
        )
        #expect(
            configurationError("[metrics]\nlisten = \"localhost:9464\"\n")
                == #"t.toml:2:10: metrics.listen = "localhost:9464" is not an address: host 'localhost' is not an IPv4 or IPv6 address (names are not resolved)"#
        )
    }

    @Test func aServicePortIsRefused() {
        let text = "[server]\nlisten = [\"127.0.0.1:7000\"]\n[metrics]\nlisten = \"127.0.0.1:7000\"\n"
        #expect(configurationError(text)?.contains("metrics.listen (127.0.0.1:7000) is also in server.listen") == true)
        #expect(configurationError(text.replacingOccurrences(of: "\"127.0.0.1:7000\"\n", with: "\"127.0.0.1:0\"\n")) == nil)
    }
}
