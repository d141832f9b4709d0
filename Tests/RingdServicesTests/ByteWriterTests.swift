// ByteWriter: numbers as text, and whole-or-nothing writes when the caller's memory is full.

import RingdServices
import Testing

@Suite struct ByteWriterTests {
    @Test func writesDecimalNumbersAtTheirExtremes() {
        #expect(rendered { $0.write(decimal: 0 as UInt64) } == "0")
        #expect(rendered { $0.write(decimal: 10 as UInt64) } == "10")
        #expect(rendered { $0.write(decimal: UInt64.max) } == "18446744073709551615")
        #expect(rendered { $0.write(decimal: Int64.min) } == "-9223372036854775808")
        #expect(rendered { $0.write(decimal: -7 as Int64) } == "-7")
        #expect(rendered { $0.write(decimal: 42, zeroPaddedTo: 6) } == "000042")
        #expect(rendered { $0.write(decimal: 1_234_567, zeroPaddedTo: 6) } == "1234567")
        #expect(rendered { $0.write(hexadecimal: 0) } == "0")
        #expect(rendered { $0.write(hexadecimal: 0xdb8) } == "db8")
    }

    @Test func aWriteThatDoesNotFitWritesNothingAndLaterWritesAreRefused() {
        let text = rendered(capacity: 8) { writer in
            writer.write("seq=")
            writer.write(decimal: 123_456 as UInt64)  // 6 digits into 4 free bytes
            #expect(writer.overflowed)
            writer.write("x")  // would fit, but must not leave a hole
        }
        #expect(text == "seq=")
    }

    @Test func commitTakesBackAWholeMessageThatOverflowed() {
        let text = rendered(capacity: 10) { writer in
            writer.write("ok\n")
            let start = writer.count
            writer.write("too ")
            writer.write("long\n")
            #expect(writer.commit(since: start) == false)
        }
        #expect(text == "ok\n")
    }

    @Test func resetMakesTheSameMemoryWritableAgain() {
        let text = rendered(capacity: 4) { writer in
            writer.write("abcde")
            #expect(writer.overflowed)
            writer.reset()
            writer.write("abcd")
            #expect(!writer.overflowed)
        }
        #expect(text == "abcd")
    }
}
