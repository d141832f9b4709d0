// IPAddress and Peer: text in and out without the C library, as {peer} and the access log show it.

import RingdServices
import Testing

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("127.0.0.1", "127.0.0.1"),
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255", "255.255.255.255"),
        ("::1", "::1"),
        ("::", "::"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  // the first of two equal zero runs
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),  // the longer run
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  // one zero group is not "::"
        ("fe80::", "fe80::"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("::ffff:192.0.2.1", "192.0.2.1"),  // IPv4-mapped is IPv4
        ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
    ])
    func printsTheCanonicalForm(text: String, canonical: String) throws {
        #expect(try IPAddress(parsing: text).description == canonical)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.256", "1..2.3", "a.b.c.d",
        ":", ":1", "1:", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "g::1", "1:2:3:4:5:6:7::8",
        "::1.2.3.4:5", "fe80::1%eth0", "localhost",
    ])
    func rejectsMalformedText(text: String) {
        #expect(throws: AddressParseError.self) { try IPAddress(parsing: text) }
    }

    @Test func errorsSayWhatIsWrong() {
        #expect(throws: AddressParseError(text: "fe80::1%eth0", reason: "zone identifiers (%...) are not supported")) {
            try IPAddress(parsing: "fe80::1%eth0")
        }
        #expect(throws: AddressParseError(text: "01.2.3.4", reason: "part 01 has a leading zero")) {
            try IPAddress(parsing: "01.2.3.4")
        }
        #expect(throws: AddressParseError(text: "1::2::3", reason: "\"::\" may appear only once")) {
            try IPAddress(parsing: "1::2::3")
        }
    }

    @Test func readsKernelBytesInNetworkOrder() {
        let ipv4: [UInt8] = [192, 0, 2, 1]
        #expect(ipv4.withUnsafeBytes { IPAddress(bytes: $0) } == IPAddress(ipv4: 192, 0, 2, 1))
        let ipv6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]
        #expect(ipv6.withUnsafeBytes { IPAddress(bytes: $0) }?.description == "2001:db8::1")
        let wrong: [UInt8] = [1, 2, 3]
        #expect(wrong.withUnsafeBytes { IPAddress(bytes: $0) } == nil)
    }

    @Test func aPeerIsHostSpacePort() throws {
        #expect(loopbackPeer.description == "127.0.0.1 35577")
        let longest = Peer(address: try IPAddress(parsing: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), port: 65535)
        #expect(longest.description.utf8.count == Peer.maximumTextCount)
    }
}
