// MessageTemplate: every placeholder, the brace escapes, errors that name the placeholder and its
// column, and rendering into a caller's buffer.

import RingdServices
import Testing

@Suite struct MessageTemplateTests {
    let values = MessageTemplate.Values(
        count: 41, seq: 7, time: UnixTime(nanosecondsSinceEpoch: 1_732_212_345_123_456_789),
        clients: 3, peer: Peer(address: IPAddress(ipv4: 10, 1, 2, 3), port: 50123))

    func render(_ text: String, _ values: MessageTemplate.Values) throws -> String {
        let template = try MessageTemplate(parsing: text)
        return rendered { #expect(template.render(values, into: &$0)) }
    }

    @Test func fillsEveryPlaceholder() throws {
        #expect(try render("{count}", values) == "41")
        #expect(try render("{seq}", values) == "7")
        #expect(try render("{time}", values) == "1732212345.123456")
        #expect(try render("{clients}", values) == "3")
        #expect(try render("{peer}", values) == "10.1.2.3 50123")
        #expect(try render("seq={seq} time={time} clients={clients} peer=[{peer}] n={count}\n", values)
            == "seq=7 time=1732212345.123456 clients=3 peer=[10.1.2.3 50123] n=41\n")
    }

    @Test func doubledBracesAreLiteralBraces() throws {
        #expect(try render("{{count}} is {count}; }}{{", values) == "{count} is 41; }{")
        #expect(try render("{{{seq}}}", values) == "{7}")
    }

    @Test func keepsNonASCIITextAsUTF8() throws {
        #expect(try render("héllo → {seq}\n", values) == "héllo → 7\n")
    }

    @Test func anUnknownPlaceholderIsNamedWithItsColumn() {
        #expect(throws: MessageTemplate.ParseError(kind: .unknownPlaceholder("cuont"), column: 7)) {
            try MessageTemplate(parsing: "count={cuont}")
        }
        // Columns count Unicode scalars, like the configuration's own columns.
        #expect(throws: MessageTemplate.ParseError(kind: .unknownPlaceholder("peers"), column: 4)) {
            try MessageTemplate(parsing: "é→ {peers}")
        }
        #expect(throws: MessageTemplate.ParseError(kind: .unknownPlaceholder(""), column: 1)) {
            try MessageTemplate(parsing: "{}")
        }
        do {
            _ = try MessageTemplate(parsing: "x {nope}")
            Issue.record("parsed an unknown placeholder")
        } catch {
            #expect(error.description.hasPrefix("column 3: unknown placeholder {nope}"))
            #expect(error.message.contains("{count}, {seq}, {time}, {clients}, {peer}"))
        }
    }

    @Test func unbalancedBracesAreErrorsAtTheBrace() {
        #expect(throws: MessageTemplate.ParseError(kind: .unclosedPlaceholder, column: 5)) {
            try MessageTemplate(parsing: "seq={seq")
        }
        #expect(throws: MessageTemplate.ParseError(kind: .unmatchedClosingBrace, column: 6)) {
            try MessageTemplate(parsing: "{seq}}")
        }
        #expect(throws: MessageTemplate.ParseError(kind: .unmatchedClosingBrace, column: 2)) {
            try MessageTemplate(parsing: "a}b")
        }
    }

    @Test func reportsWhichPlaceholdersItUses() throws {
        #expect(try MessageTemplate(parsing: "{seq} {time} {seq} {{peer}}").placeholders == [.seq, .time])
        #expect(try MessageTemplate(parsing: "plain").placeholders.isEmpty)
    }

    @Test func timeHasSixDecimalsCutNotRounded() throws {
        func time(_ nanoseconds: Int64) throws -> String {
            try render("{time}", .init(time: UnixTime(nanosecondsSinceEpoch: nanoseconds)))
        }
        #expect(try time(0) == "0.000000")
        #expect(try time(1_000_000_000) == "1.000000")
        #expect(try time(1_999_999_999) == "1.999999")
        #expect(try time(5_000_001_000) == "5.000001")
        #expect(try time(-1_500_000_000) == "-1.500000")
        #expect(UnixTime(seconds: 1_732_212_345, nanoseconds: 123_456_000).nanosecondsSinceEpoch == 1_732_212_345_123_456_000)
    }

    @Test func aMissingPeerRendersAsNothing() throws {
        #expect(try render("<{peer}>", .init()) == "<>")
    }

    @Test func peerCanBeIPv6() throws {
        let peer = Peer(address: try IPAddress(parsing: "2001:db8::1"), port: 7000)
        #expect(try render("{peer}", .init(peer: peer)) == "2001:db8::1 7000")
    }

    @Test func theMaximumRenderedCountHoldsForExtremeValues() throws {
        let template = try MessageTemplate(parsing: "{count}{seq}{time}{clients}{peer}!")
        let extreme = MessageTemplate.Values(
            count: .max, seq: .max, time: UnixTime(nanosecondsSinceEpoch: .min), clients: .min,
            peer: Peer(address: try IPAddress(parsing: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), port: 65535))
        let text = rendered(capacity: template.maximumRenderedCount) { #expect(template.render(extreme, into: &$0)) }
        #expect(text.hasSuffix("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe 65535!"))
        #expect(text.utf8.count <= template.maximumRenderedCount)
    }

    @Test func aRenderThatDoesNotFitWritesNothing() throws {
        let template = try MessageTemplate(parsing: "seq={seq} and more text\n")
        let text = rendered(capacity: 12) { writer in
            #expect(template.render(.init(seq: 1), into: &writer) == false)
            #expect(writer.count == 0)
        }
        #expect(text == "")
    }

    @Test func rendersRepeatedlyIntoTheSameMemory() throws {
        let template = try MessageTemplate(parsing: "seq={seq}\n")
        let scratch = ScratchWriter(capacity: 64)
        for seq in 1...3 as ClosedRange<UInt64> {
            scratch.writer.reset()
            #expect(template.render(.init(seq: seq), into: &scratch.writer))
            #expect(scratch.text(0..<scratch.writer.count) == "seq=\(seq)\n")
        }
    }
}
