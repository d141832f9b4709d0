// Packing of io_uring user_data: which operation completed, for which connection slot, and
// for which life of that slot.
//
//   63                              32 31                     8 7        0
//  +----------------------------------+------------------------+----------+
//  |          generation (32)         |       slot (24)        |  op (8)  |
//  +----------------------------------+------------------------+----------+
//
// A slot's generation changes every time the slot is freed, so a completion that arrives for an
// earlier occupant of the slot (a cancelled recv, a send whose connection was reset) carries a
// generation that no longer matches and is dropped instead of touching the new connection.
// Operations that belong to no connection (accept, timers, wake-ups, messages between rings)
// have their `op` say what they are and use the two other fields for what that operation needs,
// 0 when nothing: a listener, worker or output-chunk index in the slot field; a timer's own
// generation, or a descriptor, in the generation field.

/// The 64-bit tag the kernel hands back unchanged in every completion.
public struct UserData: Equatable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    /// Slots are 24 bits wide: up to 16,777,215 connections per ring.
    public static let slotBits = 24
    public static let maximumSlot: UInt32 = (1 << 24) - 1

    @inline(__always)
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    @inline(__always)
    public init(operation: UInt8, slot: UInt32, generation: UInt32) {
        assert(slot <= UserData.maximumSlot, "slot \(slot) does not fit in 24 bits")
        rawValue = UInt64(generation) << 32 | UInt64(slot & UserData.maximumSlot) << 8 | UInt64(operation)
    }

    @inline(__always) public var operation: UInt8 { UInt8(truncatingIfNeeded: rawValue) }
    @inline(__always) public var slot: UInt32 { UInt32(truncatingIfNeeded: rawValue >> 8) & UserData.maximumSlot }
    @inline(__always) public var generation: UInt32 { UInt32(truncatingIfNeeded: rawValue >> 32) }

    public var description: String { "op \(operation) slot \(slot) gen \(generation)" }
}
