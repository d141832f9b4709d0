// Runs a piece of client work (waves of resetting clients, a connect storm) on a thread of its
// own, so that the test thread can keep steady echo traffic going beside it and stop when the
// work is done.
import Foundation
import TestSupport

/// Client work on its own thread, with its result or error handed back by `join`.
///
/// `@unchecked Sendable`: `outcome` is written once by the worker thread before it signals
/// `finished`, and read only after that signal has been seen (under `lock`).
final class BackgroundWork<Result: Sendable>: @unchecked Sendable {
    private let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var outcome: Swift.Result<Result, any Error>?

    init(_ body: @escaping @Sendable () throws -> Result) {
        Thread.detachNewThread { [self] in
            let result = Swift.Result { try body() }
            lock.withLock { outcome = result }
            finished.signal()
        }
    }

    /// Whether the work has ended, with a result or an error.
    var isFinished: Bool { lock.withLock { outcome != nil } }

    /// Waits for the work, at most `timeout`, and returns its result or rethrows its error.
    func join(timeout: Duration = .seconds(60)) throws -> Result {
        let (seconds, _) = timeout.components
        guard finished.wait(timeout: .now() + .seconds(Int(seconds))) == .success else {
            throw HarnessFailure("background client work did not finish within \(timeout)")
        }
        finished.signal()  // a later join or isFinished sees it too
        return try lock.withLock { outcome! }.get()
    }
}
