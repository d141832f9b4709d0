// AccessList: IPv4, IPv6 and IPv4-mapped ranges, allow-then-deny precedence, and parse errors
// that name the entry and the reason.

import RingdServices
import Testing

@Suite struct AccessListTests {
    func address(_ text: String) throws -> IPAddress { try IPAddress(parsing: text) }

    func list(allow: [String] = [], deny: [String] = []) throws(AccessList.Error) -> AccessList {
        try AccessList(allow: allow, deny: deny)
    }

    @Test func ipv4RangesMatchByPrefix() throws {
        let loopback = try AddressRange(parsing: "127.0.0.0/8")
        #expect(loopback.contains(try address("127.0.0.1")))
        #expect(loopback.contains(try address("127.255.255.255")))
        #expect(!loopback.contains(try address("128.0.0.1")))
        let host = try AddressRange(parsing: "10.1.2.3")
        #expect(host.prefixLength == 32)
        #expect(host.contains(try address("10.1.2.3")))
        #expect(!host.contains(try address("10.1.2.4")))
        let odd = try AddressRange(parsing: "192.168.4.0/22")
        #expect(odd.contains(try address("192.168.7.255")))
        #expect(!odd.contains(try address("192.168.8.0")))
        #expect(try AddressRange(parsing: "0.0.0.0/0").contains(try address("203.0.113.9")))
    }

    @Test func ipv6RangesMatchByPrefix() throws {
        let documentation = try AddressRange(parsing: "2001:db8::/32")
        #expect(documentation.contains(try address("2001:db8:ffff::1")))
        #expect(!documentation.contains(try address("2001:db9::1")))
        let loopback = try AddressRange(parsing: "::1/128")
        #expect(loopback.contains(try address("::1")))
        #expect(!loopback.contains(try address("::2")))
        // A prefix that ends inside the low 64 bits.
        let narrow = try AddressRange(parsing: "fd00::1:0/112")
        #expect(narrow.contains(try address("fd00::1:ffff")))
        #expect(!narrow.contains(try address("fd00::2:0")))
    }

    @Test func familiesDoNotMatchEachOther() throws {
        #expect(!(try AddressRange(parsing: "::/0")).contains(try address("127.0.0.1")))
        #expect(!(try AddressRange(parsing: "0.0.0.0/0")).contains(try address("::1")))
    }

    @Test func ipv4MappedAddressesAreIPv4() throws {
        let mappedPeer = try address("::ffff:127.0.0.1")
        #expect(mappedPeer.family == .ipv4)
        #expect(mappedPeer == IPAddress(ipv4: 127, 0, 0, 1))
        #expect(try AddressRange(parsing: "127.0.0.0/8").contains(mappedPeer))
        // A range written in the mapped form is the IPv4 range it stands for.
        let mappedRange = try AddressRange(parsing: "::ffff:10.0.0.0/104")
        #expect(mappedRange == (try AddressRange(parsing: "10.0.0.0/8")))
        #expect(mappedRange.contains(try address("10.9.8.7")))
        // The kernel hands a dual-stack listener's IPv4 client over as 16 mapped bytes.
        let bytes: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 10, 9, 8, 7]
        let fromKernel = bytes.withUnsafeBytes { IPAddress(bytes: $0) }
        #expect(fromKernel == IPAddress(ipv4: 10, 9, 8, 7))
    }

    @Test func anEmptyListAllowsEveryoneNotDenied() throws {
        #expect(AccessList().decide(try address("198.51.100.1")) == .allow)
        let denyOne = try list(deny: ["198.51.100.1/32"])
        #expect(denyOne.decide(try address("198.51.100.1")) == .deny)
        #expect(denyOne.decide(try address("198.51.100.2")) == .allow)
    }

    @Test func aNonEmptyAllowListAdmitsOnlyItsRanges() throws {
        let access = try list(allow: ["127.0.0.0/8", "::1/128"])
        #expect(access.decide(try address("127.0.0.1")) == .allow)
        #expect(access.decide(try address("::1")) == .allow)
        #expect(access.decide(try address("::ffff:127.0.0.1")) == .allow)
        #expect(access.decide(try address("10.0.0.1")) == .deny)
        #expect(access.decide(try address("2001:db8::1")) == .deny)
    }

    @Test func denyWinsInsideAnAllowedRange() throws {
        let access = try list(allow: ["10.0.0.0/8", "2001:db8::/32"], deny: ["10.0.0.66", "2001:db8:bad::/48"])
        #expect(access.decide(try address("10.0.0.65")) == .allow)
        #expect(access.decide(try address("10.0.0.66")) == .deny)
        #expect(access.decide(try address("2001:db8:beef::1")) == .allow)
        #expect(access.decide(try address("2001:db8:bad::1")) == .deny)
        #expect(access.decide(try address("192.0.2.1")) == .deny)
    }

    @Test func parseErrorsNameTheEntryAndWhy() {
        func reason(_ entry: String) -> AddressRangeError.Reason? {
            do {
                _ = try AddressRange(parsing: entry)
                return nil
            } catch {
                #expect(error.entry == entry)
                return error.reason
            }
        }
        #expect(reason("10.0.0.0/33") == .prefixTooLong(33, maximum: 32))
        #expect(reason("::1/129") == .prefixTooLong(129, maximum: 128))
        #expect(reason("10.0.0.0/") == .badPrefix(""))
        #expect(reason("10.0.0.0/8x") == .badPrefix("8x"))
        #expect(reason("10.0.0.0/-1") == .badPrefix("-1"))
        #expect(reason("10.0.0.1/8") == .hostBitsSet(suggestion: "10.0.0.0/8"))
        #expect(reason("2001:db8::1/32") == .hostBitsSet(suggestion: "2001:db8::/32"))
        #expect(reason("::ffff:10.0.0.0/80") == .mappedPrefixTooShort(80))
        #expect(reason("256.0.0.0/8") == .badAddress("part 256 is larger than 255"))
        #expect(reason("10.0.0/8") == .badAddress("an IPv4 address has 4 parts, not 3"))
        #expect(reason("localhost") == .badAddress("expected an IPv4 address like 10.0.0.1 or an IPv6 address like ::1"))
        #expect(reason("2001:db8:::/32") == .badAddress("empty group"))
    }

    @Test func aListErrorSaysWhichListAndPosition() {
        #expect(throws: AccessList.Error(list: .deny, index: 1, range: AddressRangeError(entry: "10.0.0.0/33", reason: .prefixTooLong(33, maximum: 32)))) {
            try list(allow: ["127.0.0.0/8"], deny: ["::1", "10.0.0.0/33"])
        }
        do {
            _ = try list(allow: ["1.2.3.4/8"])
            Issue.record("accepted host bits")
        } catch {
            #expect(error.description == "allow[0] \"1.2.3.4/8\": bits after the prefix are set; did you mean 1.0.0.0/8?")
        }
    }
}
