// ReceiveBuffers: a worker's receive buffers, in one id space.
//
// Every recv reads from the main pool (`io.buffer_count` x `io.buffer_size`, 4 KiB buffers by
// default): small buffers let many connections each have a message in flight. Raw echo has a
// second pool of large buffers (`io.bulk_buffer_count` x `io.bulk_buffer_size`) that a
// connection's recv moves to while the connection streams, because a large message costs far
// more in small buffers: 200 KB echoed from fifty scattered 4 KiB buffers took about 1.6x the
// server CPU of the same bytes in 64 KiB buffers, most of it in the send's copy out of them
// (BENCHMARKS.md, "Bulk buffers"). Which pool a recv reads from is the event loop's choice
// (EventLoop+Receive.swift); here the two are one id space, so a send queue threads buffers of
// both kinds: ids from `bulkBase` on are the bulk pool's.

import RingdConfig
import URing

final class ReceiveBuffers {
    /// Group 0: every service's recvs.
    let main: ProvidedBufferRing
    /// Group 1, raw echo's streaming connections; nil when `io.bulk_buffer_count` is 0 or the
    /// service is not raw echo.
    let bulk: ProvidedBufferRing?
    /// The first id of a bulk buffer; ids below it are the main pool's.
    let bulkBase: UInt16

    static let mainGroup: UInt16 = 0
    static let bulkGroup: UInt16 = 1

    init(ring: Ring, io: IOSettings, withBulk: Bool) throws(SystemError) {
        main = try ProvidedBufferRing(ring: ring, group: Self.mainGroup, count: io.bufferCount, bufferSize: io.bufferSize)
        if withBulk && io.bulkBufferCount > 0 {
            do throws(SystemError) {
                bulk = try ProvidedBufferRing(
                    ring: ring, group: Self.bulkGroup, count: io.bulkBufferCount, bufferSize: io.bulkBufferSize)
            } catch {
                main.close()
                throw error
            }
        } else {
            bulk = nil
        }
        // Every id, main or bulk, stays below `noBuffer`, the send queues' list terminator.
        precondition(io.bufferCount + (bulk?.count ?? 0) < Int(noBuffer), "receive buffer ids overflow UInt16")
        bulkBase = UInt16(io.bufferCount)
    }

    /// The memory of buffer `id`, from either pool.
    @inline(__always)
    func bytes(of id: UInt16) -> UnsafeMutableRawPointer {
        id < bulkBase ? main.bytes(of: id) : bulk.unsafelyUnwrapped.bytes(of: id &- bulkBase)
    }

    /// Gives buffer `id` back to its pool.
    @inline(__always)
    func recycle(_ id: UInt16) {
        if id < bulkBase { main.recycle(id) } else { bulk.unsafelyUnwrapped.recycle(id &- bulkBase) }
    }

    /// Publishes both pools' recycled buffers. Returns whether the main pool got any back (the
    /// connections waiting for buffers wait for the main pool: a bulk recv that runs dry moves
    /// to it instead of waiting).
    @inline(__always)
    func publish() -> Bool {
        bulk?.publish()
        return main.publish()
    }

    /// Unmaps both pools; after the ring is closed (see ProvidedBufferRing.close).
    func close() {
        main.close()
        bulk?.close()
    }
}
