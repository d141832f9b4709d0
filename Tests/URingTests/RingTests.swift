// The io_uring layer against the real kernel: a ring, multishot accept and recv from a
// provided buffer ring, sends, cancellation, and the ENOBUFS recycle-then-re-arm contract.
import Glibc
import TestSupport
import Testing
@testable import URing

@Suite struct RingTests {
    @Test func setsUpWithTheRequestedQueueSizes() throws {
        let ring = try Ring(submissionEntries: 64, completionEntries: 256)
        defer { ring.close() }
        #expect(ring.submissionEntries == 64)
        #expect(ring.completionEntries >= 256)
        #expect(KernelSupport.missingOperation(on: ring) == nil)
    }

    @Test func multishotAcceptDeliversEveryConnectionAndStaysArmed() throws {
        let ring = try Ring(submissionEntries: 16, completionEntries: 64)
        defer { ring.close() }
        let pair = try LoopbackPair()
        let tag = UserData(operation: 1, slot: 0, generation: 0)
        ring.queueMultishotAccept(listener: pair.listener, userData: tag)
        try ring.submit()
        var clients: [Int32] = []
        defer { clients.forEach { close($0) } }
        for _ in 0..<3 {
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            address.sin_port = pair.listenerPort.bigEndian
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            #expect(result == 0)
            clients.append(client)
        }
        for _ in 0..<3 {
            let completion = try nextCompletion(ring)
            #expect(completion.userData == tag)
            #expect(completion.result >= 0, "accept failed: \(URing.errnoName(-completion.result))")
            #expect(completion.hasMore, "multishot accept ended early")
            if completion.result >= 0 { close(completion.result) }
        }
    }

    @Test func multishotReceiveFromProvidedBuffersKeepsEveryByteInOrder() throws {
        let ring = try Ring(submissionEntries: 16, completionEntries: 256)
        defer { ring.close() }
        let buffers = try ProvidedBufferRing(ring: ring, group: 3, count: 8, bufferSize: 512)
        defer { buffers.close() }
        let pair = try LoopbackPair()
        let tag = UserData(operation: 2, slot: 5, generation: 9)
        ring.queueMultishotReceive(socket: pair.server, group: 3, userData: tag)
        try ring.submit()
        let sent = pattern(20_000)
        try sendAll(pair.client, sent)
        shutdown(pair.client, Int32(SHUT_WR))
        var received: [UInt8] = []
        var sawEnd = false
        var rearms = 0
        while !sawEnd {
            let completion = try nextCompletion(ring)
            #expect(completion.userData == tag)
            if completion.result > 0 {
                let id = try #require(completion.bufferID)
                buffers.take(id)
                received += UnsafeRawBufferPointer(start: buffers.bytes(of: id), count: Int(completion.result))
                buffers.recycle(id)
                buffers.publish()
            } else if completion.result == 0 {
                sawEnd = true
            } else {
                // Eight 512-byte buffers are less than 20,000 bytes: the group can run dry.
                #expect(-completion.result == ENOBUFS, "unexpected \(URing.errnoName(-completion.result))")
            }
            if !completion.hasMore && !sawEnd {
                rearms += 1
                ring.queueMultishotReceive(socket: pair.server, group: 3, userData: tag)
                try ring.submit()
            }
        }
        #expect(received == sent)
        #expect(buffers.available == 8)
    }

    @Test func runningOutOfBuffersLosesNothing() throws {
        // One buffer: the second chunk of data finds the group empty, the recv ends with
        // ENOBUFS, and after recycling and re-arming the rest of the bytes still arrive.
        let ring = try Ring(submissionEntries: 16, completionEntries: 64)
        defer { ring.close() }
        let buffers = try ProvidedBufferRing(ring: ring, group: 0, count: 1, bufferSize: 1024)
        defer { buffers.close() }
        let pair = try LoopbackPair()
        let tag = UserData(operation: 2, slot: 0, generation: 0)
        let sent = pattern(10_000, seed: 7)
        try sendAll(pair.client, sent)
        ring.queueMultishotReceive(socket: pair.server, group: 0, userData: tag)
        try ring.submit()
        var held: [(UInt16, Int32)] = []
        var sawNoBuffers = false
        // Hold the first buffer so the group is empty.
        while !sawNoBuffers {
            let completion = try nextCompletion(ring)
            if completion.result > 0, let id = completion.bufferID {
                buffers.take(id)
                held.append((id, completion.result))
            } else if completion.result == -ENOBUFS {
                sawNoBuffers = true
                #expect(!completion.hasMore, "ENOBUFS must end the multishot recv")
            } else {
                Issue.record("unexpected result \(completion.result)")
                return
            }
        }
        #expect(buffers.available == 0)
        var received: [UInt8] = []
        for (id, length) in held {
            received += UnsafeRawBufferPointer(start: buffers.bytes(of: id), count: Int(length))
            buffers.recycle(id)
        }
        buffers.publish()
        shutdown(pair.client, Int32(SHUT_WR))
        ring.queueMultishotReceive(socket: pair.server, group: 0, userData: tag)
        try ring.submit()
        while true {
            let completion = try nextCompletion(ring)
            if completion.result > 0, let id = completion.bufferID {
                buffers.take(id)
                received += UnsafeRawBufferPointer(start: buffers.bytes(of: id), count: Int(completion.result))
                buffers.recycle(id)
                buffers.publish()
            } else if completion.result == 0 {
                break
            }
            if !completion.hasMore {
                ring.queueMultishotReceive(socket: pair.server, group: 0, userData: tag)
                try ring.submit()
            }
        }
        #expect(received == sent)
    }

    @Test func sendDeliversTheBytesAndReportsTheCount() throws {
        let ring = try Ring(submissionEntries: 8, completionEntries: 32)
        defer { ring.close() }
        let pair = try LoopbackPair()
        let message = Array("hello, ring\n".utf8)
        let tag = UserData(operation: 3, slot: 1, generation: 2)
        message.withUnsafeBytes { ring.queueSend(socket: pair.server, bytes: $0.baseAddress!, length: $0.count, userData: tag) }
        let completion = try nextCompletion(ring)
        #expect(completion.userData == tag)
        #expect(completion.result == Int32(message.count))
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = recv(pair.client, &buffer, buffer.count, 0)
        #expect(Array(buffer[..<count]) == message)
    }

    @Test func sendToAPeerThatLeftIsEPIPEOrReset() throws {
        let ring = try Ring(submissionEntries: 8, completionEntries: 32)
        defer { ring.close() }
        let pair = try LoopbackPair()
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(pair.client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        shutdown(pair.client, Int32(SHUT_RDWR))
        let message = [UInt8](repeating: 1, count: 100)
        var result: Int32 = 1
        for _ in 0..<8 where result > 0 {
            message.withUnsafeBytes { ring.queueSend(socket: pair.server, bytes: $0.baseAddress!, length: $0.count, userData: UserData(rawValue: 3)) }
            result = try nextCompletion(ring).result
        }
        #expect(result < 0)
        #expect(CompletionError(errno: -result) == .peerGone, "got \(URing.errnoName(-result))")
    }

    @Test func cancellingAllOnADescriptorEndsTheMultishotReceive() throws {
        let ring = try Ring(submissionEntries: 8, completionEntries: 32)
        defer { ring.close() }
        let buffers = try ProvidedBufferRing(ring: ring, group: 0, count: 4, bufferSize: 512)
        defer { buffers.close() }
        let pair = try LoopbackPair()
        let receive = UserData(operation: 2, slot: 0, generation: 0)
        let cancel = UserData(operation: 5, slot: 0, generation: 0)
        ring.queueMultishotReceive(socket: pair.server, group: 0, userData: receive)
        try ring.submit()
        ring.queueCancelAll(descriptor: pair.server, userData: cancel)
        var results: [UserData: Int32] = [:]
        for _ in 0..<2 {
            let completion = try nextCompletion(ring)
            results[completion.userData] = completion.result
            if completion.userData == receive { #expect(!completion.hasMore) }
        }
        #expect(results[receive] == -ECANCELED)
        #expect(results[cancel] == 1)
    }
}
