// A client that sends and never reads, as far as ringd lets it: it writes until the kernel has
// taken nothing for a while, which happens only once ringd has stopped reading from it
// (back-pressure) and every buffer between them is full. ringd then certainly holds output for
// it that it cannot deliver, which is what the drain and back-pressure tests need.
import Glibc
import TestSupport

extension TestSocket {
    /// Sends `payload` without reading until the kernel has taken nothing for `quietFor` (or all
    /// of it went, or `timeout` passed); returns how many bytes went.
    func sendUntilStalled(_ payload: [UInt8], quietFor: Duration = .milliseconds(500), timeout: Duration = .seconds(20)) throws -> Int {
        var offset = 0
        let giveUp = Deadline(after: timeout)
        try payload.withUnsafeBytes { all in
            while offset < all.count && !giveUp.hasPassed {
                if let sent = try sendSome(UnsafeRawBufferPointer(rebasing: all[offset...])) {
                    offset += sent
                } else if try !wait(for: Int16(POLLOUT), timeout: quietFor) {
                    return
                }
            }
        }
        return offset
    }
}

/// `byteCount` bytes of 99-byte lines of "x" ending in "\n": what a stalled client sends, in raw
/// or line echo, when what comes back is never read and so never checked.
func filler(byteCount: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: UInt8(ascii: "x"), count: byteCount)
    for index in stride(from: 99, to: byteCount, by: 100) { bytes[index] = 0x0A }
    return bytes
}
