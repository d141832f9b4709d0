// A connection's lifecycle: one enum, with the transitions it allows written down and asserted
// (a debug build traps on an impossible one), and the sweep's decisions as plain functions of the
// connection and a clock, so they are tested with no socket and no ring (LifecycleTests).
//
//   free ──open──▶ open ──────────────────────────────┬──────────────▶ closing ──release──▶ free
//                   │ closeAfterOutput                 │ beginClose        ▲
//                   ▼                                  │                   │
//            closingAfterOutput ──output sent──▶ lingering ───────────────┤
//                   │                                                      │
//   open, closingAfterOutput, lingering ──cut──▶ markedForCut… ──end of iteration──┘
//
// What is in flight on the ring (a recv, a send, a cancel) is tracked beside the lifecycle, in
// `Connection`'s flags: those are facts about requests, not stages of the connection's life.

/// Where a connection is in its life. One byte.
enum Lifecycle: UInt8 {
    /// The slot holds no connection.
    case free = 0
    /// Accepted: input goes to the service, output is queued and sent.
    case open
    /// The service is done with it (a greeting sent, an error line, `/quit`, the drain, an idle
    /// timeout): input is dropped, and it closes once its queued output has been sent.
    case closingAfterOutput
    /// Its output is sent and its write side shut down (FIN); input is read and dropped until the
    /// peer closes too or `lingerLimit` passes, so a close never turns unread input into a reset
    /// that could destroy the last reply in the peer's receive queue.
    case lingering
    /// To be cut at the end of the iteration (over its output cap, its soft cap too long, or
    /// output memory full), while the service still counts it as a client.
    case markedForCut
    /// To be cut at the end of the iteration, after the service was already told it closed.
    case markedForCutAfterService
    /// Being torn down: what is in flight is cancelled, and the slot is released after the last
    /// completion.
    case closing

    /// Whether `self` may become `next`; every other change is a bug.
    func allows(_ next: Lifecycle) -> Bool {
        switch (self, next) {
        case (.free, .open): true
        case (.open, .closingAfterOutput), (.open, .markedForCut), (.open, .closing): true
        case (.closingAfterOutput, .lingering), (.closingAfterOutput, .markedForCutAfterService),
            (.closingAfterOutput, .closing):
            true
        case (.lingering, .markedForCutAfterService), (.lingering, .closing): true
        case (.markedForCut, .closing), (.markedForCutAfterService, .closing): true
        case (.closing, .free): true
        default: false
        }
    }

    /// Holds a connection that is not being torn down: it may still send, and be swept or cut.
    var isHeldOpen: Bool {
        switch self {
        case .open, .closingAfterOutput, .lingering, .markedForCut, .markedForCutAfterService: true
        case .free, .closing: false
        }
    }

    var isMarkedForCut: Bool { self == .markedForCut || self == .markedForCutAfterService }

    /// The service still counts the connection as its client: it has not been told it closed.
    var serviceHoldsIt: Bool { self == .open || self == .markedForCut }
}

extension Connection {
    /// Moves to `next`, trapping in a debug build if the lifecycle does not allow it.
    @inline(__always)
    mutating func move(to next: Lifecycle) {
        assert(lifecycle.allows(next), "a connection cannot go from \(lifecycle) to \(next)")
        lifecycle = next
    }

    /// Marks the connection to be cut; false if it is already marked or not held open.
    @inline(__always)
    mutating func markForCut() -> Bool {
        switch lifecycle {
        case .open: move(to: .markedForCut)
        case .closingAfterOutput, .lingering: move(to: .markedForCutAfterService)
        default: return false
        }
        return true
    }
}

/// What the sweep does with one connection.
enum SweepDecision: Equatable {
    case keep
    /// Lingering past the linger limit: close it.
    case closeLingering
    /// No input for `quietMilliseconds`, past the idle timeout.
    case closeIdle(quietMilliseconds: UInt32)
    /// Above the soft output cap for longer than its time: cut it.
    case cutOverSoftCap
}

extension Connection {
    /// How long a connection may linger after its FIN (waiting for the peer's) before it is closed.
    static var lingerLimitMilliseconds: UInt32 { 5000 }

    /// The sweep at `now` (the worker's coarse milliseconds). Starts or clears the soft-cap clock
    /// of a client of a `.cut` service (`softCapApplies`) as its queue rises above the soft cap
    /// or falls below it.
    mutating func sweep(now: UInt32, limits: ConnectionLimits, softCapApplies: Bool) -> SweepDecision {
        guard lifecycle.isHeldOpen && !lifecycle.isMarkedForCut else { return .keep }
        if softCapApplies && limits.outputSoftCap > 0 && overSoftCapTooLong(now: now, limits: limits) {
            return .cutOverSoftCap
        }
        let quiet = now &- lastActivity
        if lifecycle == .lingering {
            return quiet >= Self.lingerLimitMilliseconds ? .closeLingering : .keep
        }
        if limits.idleTimeoutMilliseconds > 0 && quiet >= limits.idleTimeoutMilliseconds {
            return .closeIdle(quietMilliseconds: quiet)
        }
        return .keep
    }

    private mutating func overSoftCapTooLong(now: UInt32, limits: ConnectionLimits) -> Bool {
        guard queue.queuedBytes > limits.outputSoftCap else {
            overSoftCapSince = 0
            return false
        }
        if overSoftCapSince == 0 {
            overSoftCapSince = now | 1  // never 0 while over
            return false
        }
        return now &- overSoftCapSince >= limits.outputSoftTimeMilliseconds
    }

    /// At the drain: a connection with output owed closes once it is sent; one without closes now.
    var drainsAfterOutput: Bool { sendInFlight || !queue.isEmpty }
}
