// [access] allow and deny: CIDR ranges or bare addresses, in a file or `--set`; a bad entry is
// reported at the entry, naming its list, its index and the entry as written.

import Testing
@testable import RingdConfig
import RingdServices

@Suite struct AccessKeyTests {
    private func access(_ text: String, overrides: [String] = []) throws -> AccessSettings {
        try Configuration.parse(text: text, file: "t.toml", overrides: overrides).access
    }

    @Test func rangesAndBareAddresses() throws {
        let settings = try access("""
            [access]
            allow = ["127.0.0.0/8", "::1", "::ffff:192.168.0.0/112"]
            deny = ["127.0.0.2", "0.0.0.0/0"]
            """)
        #expect(settings.allow == [
            AddressRange(IPAddress(ipv4: 127, 0, 0, 0), prefixLength: 8),
            AddressRange(IPAddress(ipv6High: 0, low: 1), prefixLength: 128),
            AddressRange(IPAddress(ipv4: 192, 168, 0, 0), prefixLength: 16),
        ])
        #expect(settings.deny == [
            AddressRange(IPAddress(ipv4: 127, 0, 0, 2), prefixLength: 32), AddressRange(IPAddress(ipv4: 0), prefixLength: 0),
        ])
        #expect(settings.list == AccessList(allow: settings.allow, deny: settings.deny))
    }

    @Test func overridesTakeOneBareRangeOrATOMLArray() throws {
        #expect(try access("", overrides: ["access.deny=10.0.0.0/8"]).deny == [try AddressRange(parsing: "10.0.0.0/8")])
        #expect(try access("[access]\ndeny = [\"::1\"]", overrides: ["access.deny=[]"]).deny == [])
        #expect(try access("", overrides: ["access.allow=[\"::1\", '10.1.0.0/16']"]).allow
            == [try AddressRange(parsing: "::1"), try AddressRange(parsing: "10.1.0.0/16")])
    }

    @Test(arguments: [
        ("[access]\ndeny = [\"10.0.0.0/8\", \"10.0.0.0/33\"]",
         "t.toml:2:23: access.deny[1] = \"10.0.0.0/33\" is not an address range: prefix /33 is longer than the 32 bits of an IPv4 address"),
        ("[access]\nallow = [\n    \"::1\",\n    \"10.0.0.1/8\",\n]",
         "t.toml:4:5: access.allow[1] = \"10.0.0.1/8\" is not an address range: bits after the prefix are set; did you mean 10.0.0.0/8?"),
        ("[access]\nallow = [\"localhost\"]",
         "t.toml:2:10: access.allow[0] = \"localhost\" is not an address range: bad address: expected an IPv4 address like 10.0.0.1 or an IPv6 address like ::1"),
        ("[access]\nallow = ['::ffff:10.0.0.0/95']",
         "t.toml:2:10: access.allow[0] = \"::ffff:10.0.0.0/95\" is not an address range: prefix /95 is shorter than /96, the IPv4-mapped prefix ::ffff:0:0/96"),
        ("[access]\ndeny = [\"2001:db8::/129\"]",
         "t.toml:2:9: access.deny[0] = \"2001:db8::/129\" is not an address range: prefix /129 is longer than the 128 bits of an IPv6 address"),
        ("[access]\ndeny = [\"10.0.0.0/\"]",
         "t.toml:2:9: access.deny[0] = \"10.0.0.0/\" is not an address range: prefix \"/\" is not a number of bits"),
        ("[access]\ndeny = [1]", "t.toml:2:9: wrong type for access.deny[0]: expected a string such as \"10.0.0.0/8\", found an integer"),
        ("[access]\ndeny = \"10.0.0.0/8\"",
         "t.toml:2:8: wrong type for access.deny: expected an array of ranges such as [\"10.0.0.0/8\", \"::1\"], found a string"),
    ])
    func badEntriesInAFile(text: String, expected: String) {
        #expect(configurationError(text) == expected)
    }

    @Test(arguments: [
        ("access.deny=10.0.0.0/33",
         "--set access.deny=10.0.0.0/33:1:13: access.deny[0] = \"10.0.0.0/33\" is not an address range: prefix /33 is longer than the 32 bits of an IPv4 address"),
        ("access.deny=[\"10.0.0.0/8\", \"10.0.0.0/33\"]",
         "--set access.deny=[\"10.0.0.0/8\", \"10.0.0.0/33\"]:1:28: access.deny[1] = \"10.0.0.0/33\" is not an address range: prefix /33 is longer than the 32 bits of an IPv4 address"),
        ("access.allow=10.0.0.0/x",
         "--set access.allow=10.0.0.0/x:1:14: access.allow[0] = \"10.0.0.0/x\" is not an address range: prefix \"/x\" is not a number of bits"),
    ])
    func badEntriesInAnOverride(override: String, expected: String) {
        #expect(configurationError("", overrides: [override]) == expected)
    }
}
