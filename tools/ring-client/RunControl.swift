// RunControl: how the main thread steers benchmark workers, and what they report back while
// they run, with no lock anywhere.
//
// The main thread only keeps time. It writes a handful of atomics (go, measurement window,
// stop) that each worker reads once per batch of completions, and it reads the per-worker
// progress counters once a second for the progress line. Everything else a worker produces
// (histogram, error log) is read after the worker's thread has been joined.

import RingdSystem
import Synchronization

/// Phase flags and the measurement window, written by the main thread, read by workers.
final class RunControl: Sendable {
    /// Workers whose connections are all up.
    let ready = Atomic<Int>(0)
    /// Workers that could not set up; the run is abandoned when one fails.
    let failed = Atomic<Int>(0)
    /// Workers that have left their loop.
    let finished = Atomic<Int>(0)
    /// CLOCK_MONOTONIC when traffic may start; 0 until then.
    let startTime = Atomic<UInt64>(0)
    /// Start of the measured window. Work stamped earlier is warm-up and not counted.
    let measureStart = Atomic<UInt64>(.max)
    /// End of the measured window in duration runs; completions after it are not counted.
    let measureEnd = Atomic<UInt64>(.max)
    /// No new requests or messages from now on (relay drains after this).
    let stopIssuing = Atomic<Bool>(false)
    /// Leave the loop now.
    let stop = Atomic<Bool>(false)

    /// Waits for the start signal; false when the run was abandoned meanwhile.
    func waitForStart() -> Bool {
        while startTime.load(ordering: .acquiring) == 0 {
            if stop.load(ordering: .relaxed) { return false }
            sleepNanoseconds(100_000)
        }
        return !stop.load(ordering: .relaxed)
    }
}

/// Counters a worker publishes once per loop iteration for the progress line.
final class WorkerProgress: Sendable {
    /// Requests, connections, or lines completed so far, warm-up included.
    let completed = Atomic<UInt64>(0)
    /// Data errors counted so far.
    let errors = Atomic<UInt64>(0)
}

/// Set by SIGINT: the run stops early and still prints what it measured.
let interruptRequested = Atomic<Bool>(false)
