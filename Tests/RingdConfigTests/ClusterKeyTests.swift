// [cluster]: off by default (redis = "", one host, as before); a numeric HOST:PORT or a
// unix:/path; the prefix, AUTH, node name and the counter's unavailable message; errors name the
// key and the position.

import Testing

@testable import RingdConfig

@Suite struct ClusterKeyTests {
    @Test func offByDefault() {
        let cluster = Configuration.defaults.cluster
        #expect(cluster.redis == nil)
        #expect(cluster.prefix == "ringd")
        #expect(cluster.username.isEmpty && cluster.password.isEmpty && cluster.node.isEmpty)
        #expect(cluster.unavailableMessage.text == "error: the cluster is unavailable, try again later\n")
    }

    @Test(arguments: [
        ("127.0.0.1:6379", "127.0.0.1:6379"), ("[::1]:6380", "[::1]:6380"),
        ("unix:/run/redis/redis.sock", "unix:/run/redis/redis.sock"), ("", nil),
    ])
    func addresses(text: String, expected: String?) throws {
        let configuration = try Configuration.parse(text: "[cluster]\nredis = \"\(text)\"\n", file: "t.toml", overrides: [])
        #expect(configuration.cluster.redis?.description == expected)
        let set = try Configuration.parse(text: "", file: "t.toml", overrides: ["cluster.redis=\(text)"])
        #expect(set.cluster.redis?.description == expected)
    }

    @Test func everyKeyIsRead() throws {
        let configuration = try Configuration.parse(
            text: """
                [cluster]
                redis = "127.0.0.1:6379"
                prefix = "chat-eu"
                username = "ringd"
                password = "s3cret"
                node = "edge-1"
                unavailable_message = "busy\\n"
                """,
            file: "t.toml", overrides: [])
        let cluster = configuration.cluster
        #expect(cluster.redis == .tcp(try ListenAddress(parsing: "127.0.0.1:6379")))
        #expect(cluster.prefix == "chat-eu" && cluster.username == "ringd" && cluster.password == "s3cret")
        #expect(cluster.node == "edge-1" && cluster.unavailableMessage.text == "busy\n")
        #expect(try Configuration.parse(text: configuration.rendered(), file: "r.toml", overrides: []) == configuration)
    }

    @Test func errorsNameTheKeyAndPosition() {
        #expect(
            configurationError("[cluster]\nredis = \"localhost:6379\"\n")
                == #"t.toml:2:9: cluster.redis = "localhost:6379" is not a Redis address: host 'localhost' is not an IPv4 or IPv6 address (names are not resolved)"#
        )
        #expect(
            configurationError("[cluster]\nredis = \"127.0.0.1:0\"\n")
                == #"t.toml:2:9: cluster.redis = "127.0.0.1:0" is not a Redis address: port 0 names no server: give Redis's port (6379 by default)"#
        )
        #expect(
            configurationError("[cluster]\nredis = \"unix:redis.sock\"\n")
                == #"t.toml:2:9: cluster.redis = "unix:redis.sock" is not a Redis address: 'redis.sock' is not an absolute path: expected unix:/path/to/redis.sock"#
        )
        #expect(
            configurationError("[cluster]\nredis = 6379\n")
                == #"t.toml:2:9: wrong type for cluster.redis: expected a string such as "127.0.0.1:6379" or "unix:/run/redis.sock", or "" for none, found an integer"#
        )
        #expect(configurationError("[cluster]\nprefix = \"\"\n") == #"t.toml:2:10: cluster.prefix = "" is empty"#)
        #expect(configurationError("[cluster]\nunavailable_message = \"{peer}\\n\"\n")?.hasPrefix("t.toml:2:24: ") == true)
    }

    @Test func aRelayNodeEndsDefaultNamesSoItIsShortAndHasNoSpaces() throws {
        let relay = "[server]\nmode = \"relay\"\n[cluster]\nredis = \"127.0.0.1:6379\"\n"
        for node in ["seventeen-bytes-x", "web 1"] {
            let error = configurationError(relay + "node = \"\(node)\"\n")
            #expect(
                error?.contains(
                    "cluster.node (\"\(node)\") must be 1 to 16 visible ASCII characters without spaces in relay mode with a cluster")
                    == true, "\(error ?? "accepted")")
        }
        for accepted in [relay + "node = \"sixteen-bytes-xy\"\n", relay, "[cluster]\nnode = \"a node of the counter\"\n"] {
            #expect(configurationError(accepted) == nil, "\(accepted)")
        }
    }
}
