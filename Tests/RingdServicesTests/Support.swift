// Helpers shared by the service tests: writers over scratch memory, and a seeded random source so
// a failing "random boundaries" case can be replayed.

import RingdServices

/// Runs `body` with a writer over `capacity` fresh bytes and returns what it wrote, as text.
func rendered(capacity: Int = 4096, _ body: (inout ByteWriter) -> Void) -> String {
    String(decoding: renderedBytes(capacity: capacity, body), as: UTF8.self)
}

/// Runs `body` with a writer over `capacity` fresh bytes and returns what it wrote.
func renderedBytes(capacity: Int = 4096, _ body: (inout ByteWriter) -> Void) -> [UInt8] {
    withUnsafeTemporaryAllocation(byteCount: capacity, alignment: 8) { storage in
        var writer = ByteWriter(storage)
        body(&writer)
        return Array(writer.written)
    }
}

/// Calls `body` with the bytes of `text` as a Line (terminator included, as received).
func withLine<Result>(_ text: String, _ body: (Line) -> Result) -> Result {
    Array(text.utf8).withUnsafeBytes { body(Line($0)) }
}

/// A writer over memory that lives as long as the object, for stateful tests.
final class ScratchWriter {
    let storage: UnsafeMutableRawBufferPointer
    var writer: ByteWriter

    init(capacity: Int) {
        storage = .allocate(byteCount: capacity, alignment: 8)
        writer = ByteWriter(storage)
    }

    deinit { storage.deallocate() }

    func text(_ range: Range<Int>) -> String {
        String(decoding: writer.bytes(in: range), as: UTF8.self)
    }
}

/// SplitMix64: a tiny deterministic generator, so random cases replay exactly from their seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

let loopbackPeer = Peer(address: IPAddress(ipv4: 127, 0, 0, 1), port: 35577)

/// A context for events whose output does not depend on it.
let anyContext = ServiceContext(time: UnixTime(nanosecondsSinceEpoch: 0), clients: 1, connections: 1)
