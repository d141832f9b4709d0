// HOST:PORT parsing: numeric IPv4 and bracketed IPv6 only, canonical hosts, strict ports; and
// unix:/PATH, absolute paths that fit a sockaddr_un.

import RingdConfig
import Testing

@Suite struct ListenAddressTests {
    @Test(arguments: [
        ("127.0.0.1:7000", "127.0.0.1", 7000 as UInt16, ListenAddress.Family.ipv4, "127.0.0.1:7000"),
        ("0.0.0.0:0", "0.0.0.0", 0, .ipv4, "0.0.0.0:0"),
        ("255.255.255.255:65535", "255.255.255.255", 65535, .ipv4, "255.255.255.255:65535"),
        ("[::1]:7000", "::1", 7000, .ipv6, "[::1]:7000"),
        ("[::]:80", "::", 80, .ipv6, "[::]:80"),
        ("[0:0:0:0:0:0:0:1]:80", "::1", 80, .ipv6, "[::1]:80"),
        ("[2001:DB8::1]:443", "2001:db8::1", 443, .ipv6, "[2001:db8::1]:443"),
        ("[::ffff:127.0.0.1]:1", "::ffff:127.0.0.1", 1, .ipv6, "[::ffff:127.0.0.1]:1"),
    ])
    func parses(text: String, host: String, port: UInt16, family: ListenAddress.Family, description: String) throws {
        let address = try ListenAddress(parsing: text)
        #expect(address.host == host)
        #expect(address.port == port)
        #expect(address.family == family)
        #expect(address.description == description)
        #expect(try ListenAddress(parsing: description) == address)
    }

    @Test func parsesUnixSocketPaths() throws {
        let address = try ListenAddress(parsing: "unix:/run/ringd/echo.sock")
        #expect(address.family == .unix)
        #expect(address.path == "/run/ringd/echo.sock")
        #expect(address.port == 0)
        #expect(address.description == "unix:/run/ringd/echo.sock")
        #expect(try ListenAddress(parsing: address.description) == address)
        let longest = "/" + String(repeating: "a", count: ListenAddress.maximumPathLength - 1)
        #expect(try ListenAddress(parsing: "unix:" + longest).path == longest)
    }

    @Test(arguments: [
        ("127.0.0.1", ListenAddressError.missingPort("127.0.0.1")),
        ("[::1]", .missingPort("[::1]")),
        ("[::1]80", .missingPort("[::1]80")),
        ("[::1:80", .missingPort("[::1:80")),
        ("localhost:80", .invalidHost("localhost")),
        (":80", .invalidHost("")),
        ("256.0.0.1:80", .invalidHost("256.0.0.1")),
        ("1.2.3:80", .invalidHost("1.2.3")),
        ("[127.0.0.1]:80", .invalidHost("127.0.0.1")),
        ("[fe80::1%eth0]:80", .invalidHost("fe80::1%eth0")),
        ("[]:80", .invalidHost("")),
        ("127.0.0.1:", .invalidPort("")),
        ("127.0.0.1:65536", .invalidPort("65536")),
        ("127.0.0.1:-1", .invalidPort("-1")),
        ("127.0.0.1:+1", .invalidPort("+1")),
        ("127.0.0.1:080", .invalidPort("080")),
        ("127.0.0.1:8 0", .invalidPort("8 0")),
        ("127.0.0.1:http", .invalidPort("http")),
        ("::1:80", .unbracketedIPv6("::1:80")),
        ("unix:run/echo.sock", .relativeUnixPath("run/echo.sock")),
        ("unix:", .relativeUnixPath("")),
        ("unix:/" + String(repeating: "a", count: 107), .unixPathTooLong(108)),
        ("unix:/a\u{0}b", .nulInUnixPath),
    ])
    func rejects(text: String, error: ListenAddressError) {
        #expect(throws: error) { try ListenAddress(parsing: text) }
    }

    @Test func errorsSayWhatIsExpected() {
        #expect(
            ListenAddressError.missingPort("x").description
                == "expected HOST:PORT or unix:/PATH, such as 127.0.0.1:7000, [::1]:7000 or unix:/run/ringd/echo.sock")
        #expect(
            ListenAddressError.relativeUnixPath("echo.sock").description
                == "the Unix socket path 'echo.sock' is not absolute: write unix:/PATH, such as unix:/run/ringd/echo.sock")
        #expect(
            ListenAddressError.unixPathTooLong(120).description
                == "the Unix socket path is 120 bytes long; a Unix socket's path holds at most 107")
        #expect(ListenAddressError.invalidPort("x").description == "port 'x' is not a number 0...65535")
        #expect(
            ListenAddressError.invalidHost("x").description
                == "host 'x' is not an IPv4 or IPv6 address (names are not resolved)")
        #expect(
            ListenAddressError.unbracketedIPv6("::1:80").description
                == "an IPv6 address is written in brackets before the port, as in [::1]:7000")
    }
}
