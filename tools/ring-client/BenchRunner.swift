// BenchRunner: starts the workers, keeps time, prints the progress line, and stops the run.
//
// The main thread does no I/O on the benchmark's sockets. It waits until every worker has its
// connections up, opens the gate, lets the warm-up pass, opens the measured window, prints one
// progress line per second on stderr, and closes the window when the duration has passed, every
// worker has finished its count, or the user pressed Ctrl-C.

#if canImport(Glibc)
import Glibc
#endif
import RingdSystem

/// What every benchmark worker offers the runner.
protocol BenchWorker: AnyObject, Sendable {
    var progress: WorkerProgress { get }
    /// Why the worker could not start (read after join).
    var setupFailure: ClientError? { get }
    func run()
}

struct RunSchedule {
    var warmup: UInt64
    /// nil: run until every worker has finished its count.
    var duration: UInt64?
    /// After the window closes, keep receiving this long without sending (relay's stragglers).
    var drain: UInt64 = 0
    var quiet: Bool
    /// `req`, `conn`, `lines`: the unit of the progress line.
    var unit: String
    var label: String
}

struct RunTiming {
    var measureStart: UInt64
    /// When the window closed (the duration passed, or the run was interrupted or ended).
    var measureEnd: UInt64
    var interrupted: Bool
}

enum BenchRunner {
    static func run(_ workers: [any BenchWorker], control: RunControl, schedule: RunSchedule) throws(ClientError) -> RunTiming {
        installInterruptHandler()
        var threads: [JoinableThread] = []
        for worker in workers {
            do throws(SystemCallError) {
                threads.append(try JoinableThread { worker.run() })
            } catch {
                control.stop.store(true, ordering: .releasing)
                threads.forEach { $0.join() }
                throw ClientError("pthread_create failed: \(error.errno)")
            }
        }
        func abandon() {
            control.stop.store(true, ordering: .releasing)
            threads.forEach { $0.join() }
        }

        // 1. Every worker connects; one failure abandons the run.
        while control.ready.load(ordering: .acquiring) + control.failed.load(ordering: .acquiring) < workers.count {
            if interruptRequested.load(ordering: .relaxed) {
                abandon()
                throw ClientError("interrupted while connecting")
            }
            sleepNanoseconds(1_000_000)
        }
        if control.failed.load(ordering: .acquiring) > 0 {
            abandon()
            let reasons = workers.compactMap { $0.setupFailure?.description }
            throw ClientError(reasons.first ?? "a worker failed to start")
        }

        // 2. Open the gate; the measured window starts now, or after the warm-up.
        let start = monotonicNanoseconds()
        if schedule.warmup == 0 { control.measureStart.store(start, ordering: .relaxed) }
        control.startTime.store(start, ordering: .releasing)
        var measureStart = schedule.warmup == 0 ? start : UInt64.max
        var nextReport = start + 1_000_000_000
        var lastCompleted: UInt64 = 0
        var second = 0
        var interrupted = false
        let allFinished = { control.finished.load(ordering: .acquiring) >= workers.count }

        while true {
            sleepNanoseconds(5_000_000)
            let now = monotonicNanoseconds()
            if measureStart == .max && now >= start + schedule.warmup {
                measureStart = now
                control.measureStart.store(now, ordering: .relaxed)
            }
            if now >= nextReport {
                second += 1
                nextReport += 1_000_000_000
                let completed = workers.reduce(0) { $0 + $1.progress.completed.load(ordering: .relaxed) }
                let errors = workers.reduce(0) { $0 + $1.progress.errors.load(ordering: .relaxed) }
                if !schedule.quiet {
                    let phase = measureStart == .max || measureStart > now - 1_000_000_000 ? " (warm-up)" : ""
                    let line = "\(schedule.label): \(second)s \(completed - lastCompleted) \(schedule.unit)/s, total \(completed), errors \(errors)\(phase)\n"
                    writeStandardError(line)
                }
                lastCompleted = completed
            }
            if interruptRequested.load(ordering: .relaxed) { interrupted = true; break }
            if allFinished() { break }
            if measureStart != .max, let duration = schedule.duration, now >= measureStart + duration { break }
        }

        // 3. Close the window, let relay drain, stop everyone.
        let end = monotonicNanoseconds()
        if measureStart == .max {
            measureStart = end
            control.measureStart.store(end, ordering: .relaxed)
        }
        control.measureEnd.store(end, ordering: .relaxed)
        control.stopIssuing.store(true, ordering: .releasing)
        if schedule.drain > 0 && !interrupted {
            let drainEnd = end + schedule.drain
            while monotonicNanoseconds() < drainEnd && !allFinished() && !interruptRequested.load(ordering: .relaxed) {
                sleepNanoseconds(5_000_000)
            }
        }
        control.stop.store(true, ordering: .releasing)
        threads.forEach { $0.join() }
        return RunTiming(measureStart: measureStart, measureEnd: end, interrupted: interrupted)
    }

    private static func installInterruptHandler() {
        signal(SIGPIPE, SIG_IGN)
        signal(SIGINT) { _ in interruptRequested.store(true, ordering: .relaxed) }
    }
}

/// Writes `text` to stderr in one write(2), so lines from threads never interleave mid-line.
func writeStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
            if written <= 0 { if errno == EINTR { continue }; return }
            offset += written
        }
    }
}

/// Writes `text` to stdout unbuffered (after flushing whatever print() buffered).
func writeStandardOutput(_ text: String) {
    fflush(nil)
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(STDOUT_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
            if written <= 0 { if errno == EINTR { continue }; return }
            offset += written
        }
    }
}
