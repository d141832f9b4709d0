// Sizes ("4KiB") and durations ("250ms"): what parses, what does not, and how they are written
// back in the largest unit that divides them exactly.

import Testing
@testable import RingdConfig

@Suite struct UnitTextTests {
    @Test(arguments: [
        ("0", 0), ("512", 512), ("512B", 512), ("1B", 1), ("4KiB", 4096), ("64KiB", 65536), ("1MiB", 1 << 20),
        ("2GiB", 2 << 30), ("9223372036854775807", Int.max), ("8589934591GiB", 8_589_934_591 << 30),
    ])
    func sizes(text: String, bytes: Int) {
        #expect(ByteCountText.bytes(from: text) == bytes)
    }

    @Test(arguments: [
        "", "B", "KiB", "4KB", "4kib", "4K", "4 KiB", " 4KiB", "4KiB ", "-1", "+1", "04KiB", "00", "1.5KiB",
        "1_024", "0x10", "9223372036854775808", "8589934592GiB", "4KiBB", "4GB", "4TiB",
    ])
    func notSizes(text: String) {
        #expect(ByteCountText.bytes(from: text) == nil)
    }

    @Test(arguments: [
        (0, "0B"), (1, "1B"), (1000, "1000B"), (1024, "1KiB"), (1536, "1536B"), (4096, "4KiB"),
        (1 << 20, "1MiB"), (3 << 30, "3GiB"), (1 << 40, "1024GiB"),
    ])
    func sizeText(bytes: Int, text: String) {
        #expect(ByteCountText.text(bytes: bytes) == text)
        #expect(ByteCountText.bytes(from: text) == bytes)
    }

    @Test(arguments: [
        ("250ms", Duration.milliseconds(250)), ("2s", .seconds(2)), ("1m", .seconds(60)), ("1h", .seconds(3600)),
        ("5us", .microseconds(5)), ("7ns", .nanoseconds(7)), ("0s", .zero), ("1500ms", .milliseconds(1500)),
        ("2562047h", .seconds(2_562_047 * 3600)),
    ])
    func durations(text: String, duration: Duration) {
        #expect(DurationText.duration(from: text) == duration)
    }

    @Test(arguments: [
        "", "s", "2", "1.5s", "2 s", "2S", "2sec", "-1s", "+1s", "01s", "2ms ", "1d", "1_000ms", "2562048h",
        "99999999999999999999ns",
    ])
    func notDurations(text: String) {
        #expect(DurationText.duration(from: text) == nil)
    }

    @Test(arguments: [
        (Duration.milliseconds(1500), "1500ms"), (.seconds(120), "2m"), (.seconds(3600), "1h"), (.seconds(90), "90s"),
        (.zero, "0s"), (.nanoseconds(1), "1ns"), (.microseconds(1000), "1ms"), (.microseconds(1001), "1001us"),
    ])
    func durationText(duration: Duration, text: String) {
        #expect(DurationText.text(for: duration) == text)
        #expect(DurationText.duration(from: text) == duration)
    }

    @Test func durationKindChecksTypeSyntaxAndRange() throws {
        let kind = ValueKind<Duration>.duration(in: .milliseconds(1)...(.seconds(3600)))
        #expect(try kind.decode(.string("250ms")) == .milliseconds(250))
        #expect(kind.encode(.seconds(2)) == .string("2s"))
        #expect(kind.summary == "1ms...1h")
        #expect(throws: ValueProblem.outOfRange("1ms...1h")) { try kind.decode(.string("2h")) }
        #expect(throws: ValueProblem.outOfRange("1ms...1h")) { try kind.decode(.string("0s")) }
        #expect(throws: ValueProblem.invalid("is not a duration: expected an integer with ns, us, ms, s, m or h, such as \"250ms\"")) {
            try kind.decode(.string("1.5s"))
        }
        #expect(throws: ValueProblem.wrongType(expected: "a duration such as \"250ms\"")) { try kind.decode(.integer(250)) }
    }
}
