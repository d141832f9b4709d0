// Receive bundles against the real kernel (Linux 6.10): one completion fills several buffers,
// and the ring's own record of its order names them, even after buffers came back out of order
// and the ring wrapped. Skipped, with the reason, on a kernel without bundles.
import Glibc
import Testing

@testable import URing

@Suite struct ReceiveBundleTests {
    @Test func aBundleNamesItsBuffersInRingOrderAcrossOutOfOrderRecyclingAndWrapping() throws {
        let ring = try Ring(submissionEntries: 16, completionEntries: 64)
        defer { ring.close() }
        guard ring.supportsBundles else {
            print("skipped: this kernel has no IORING_FEAT_RECVSEND_BUNDLE")
            return
        }
        let buffers = try ProvidedBufferRing(ring: ring, group: 1, count: 8, bufferSize: 256)
        defer { buffers.close() }
        let pair = try LoopbackPair()
        let sent = pattern(20_000, seed: 9)
        var received: [UInt8] = []
        var bundles = 0
        var largest = 0
        var held: [UInt16] = []
        var offset = 0
        var armed = false
        let tag = UserData(operation: 2, slot: 0, generation: 0)
        while received.count < sent.count {
            if !armed {
                ring.queueMultishotReceiveBundle(socket: pair.server, group: buffers.group, userData: tag)
                armed = true
            }
            if received.count == offset {
                // 1,500 bytes at a time, once the last came back: six free buffers hold them.
                let count = min(1500, sent.count - offset)
                let written = sent[offset..<offset + count].withUnsafeBytes { send(pair.client, $0.baseAddress, count, 0) }
                try #require(written == count)
                offset += count
            }
            let completion = try nextCompletion(ring)
            armed = completion.hasMore
            if completion.result == -ENOBUFS { continue }  // re-armed above, as ringd does after recycling
            try #require(completion.result > 0, "recv ended with \(completion.result)")
            let bundle = try takeBundle(completion, from: buffers) { received += $0 }
            held += bundle
            bundles += 1
            largest = max(largest, bundle.count)
            // Buffers go back newest first, two kept back: the ring's order is never the ids'.
            while held.count > 2 { buffers.recycle(held.removeLast()) }
            buffers.publish()
        }
        if armed {
            shutdown(pair.client, Int32(SHUT_WR))
            while try nextCompletion(ring).hasMore {}
        }
        let differing = zip(received, sent).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(
            differing == nil && received.count == sent.count,
            "\(received.count) of \(sent.count) bytes, first difference at \(differing ?? -1)")
        #expect(largest > 1, "no completion spanned more than one buffer in \(bundles) completions")
    }

    /// Raw echo's bound on what one recv takes: a limited bundle ends (no IORING_CQE_F_MORE)
    /// once it has its limit, the next one armed takes the next bytes, and the end of the stream
    /// still comes (a per-completion cap can lose it on 6.18; this limit must not).
    @Test func aLimitedBundleEndsAtItsLimitAndTheEndOfStreamStillComes() throws {
        let ring = try Ring(submissionEntries: 16, completionEntries: 64)
        defer { ring.close() }
        guard ring.supportsBundles, KernelSupport.receiveLimit else {
            print("skipped: this kernel has no limit on a multishot recv (bundles: \(ring.supportsBundles))")
            return
        }
        let buffers = try ProvidedBufferRing(ring: ring, group: 1, count: 64, bufferSize: 4096)
        defer { buffers.close() }
        let pair = try LoopbackPair()
        let sent = pattern(100_000, seed: 11)
        let written = sent.withUnsafeBytes { send(pair.client, $0.baseAddress, sent.count, 0) }
        try #require(written == sent.count)
        shutdown(pair.client, Int32(SHUT_WR))
        let limit = 16 * 1024
        var received: [UInt8] = []
        var requests = 0
        var endOfStream = false
        let tag = UserData(operation: 2, slot: 0, generation: 0)
        while !endOfStream && requests < 100 {
            ring.queueMultishotReceiveBundle(socket: pair.server, group: buffers.group, limit: UInt32(limit), userData: tag)
            requests += 1
            var takenByThisRequest = 0
            var more = true
            while more {
                let completion = try nextCompletion(ring)
                more = completion.hasMore
                if completion.result == 0 {
                    endOfStream = true
                    continue
                }
                try #require(completion.result > 0, "recv ended with \(completion.result)")
                for buffer in try takeBundle(completion, from: buffers, { received += $0 }) { buffers.recycle(buffer) }
                buffers.publish()
                takenByThisRequest += Int(completion.result)
            }
            #expect(takenByThisRequest <= limit, "request \(requests) took \(takenByThisRequest) bytes, over its \(limit)")
        }
        #expect(endOfStream, "no end of stream after \(requests) requests and \(received.count) bytes")
        #expect(received == sent, "\(received.count) of \(sent.count) bytes, or not in order")
        #expect(requests >= sent.count / limit, "\(requests) requests for \(sent.count) bytes at most \(limit) each")
    }

    /// Takes the buffers a bundle `completion` filled, in ring order, hands `body` the bytes of
    /// each, and returns their ids (the caller recycles them).
    private func takeBundle(
        _ completion: Completion, from buffers: ProvidedBufferRing, _ body: (UnsafeRawBufferPointer) -> Void
    ) throws -> [UInt16] {
        let first = try #require(completion.bufferID)
        let count = (Int(completion.result) + buffers.bufferSize - 1) / buffers.bufferSize
        buffers.take(first, count: count)
        let position = buffers.position(of: first)
        var left = Int(completion.result)
        var taken: [UInt16] = []
        for index in 0..<count {
            let buffer = index == 0 ? first : buffers.buffer(index, from: position)
            let length = min(left, buffers.bufferSize)
            body(UnsafeRawBufferPointer(start: buffers.bytes(of: buffer), count: length))
            left -= length
            taken.append(buffer)
        }
        return taken
    }
}
