// StartupLatch: the rendezvous between the main thread and the workers as ringd starts.

import URing

#if canImport(Glibc)
    import Glibc
#endif

/// Start-up rendezvous between the main thread and the workers. Used only while starting and
/// stopping, never per connection, so a mutex is fine here.
final class StartupLatch: @unchecked Sendable {
    // @unchecked: every field is read and written under `mutex`.
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var remaining: Int
    private var failure: StartupError?
    private var failureWhileRunning: StartupError?
    private var mode: TaskRunMode = .deferred
    private var decided = false

    init(workers: Int) {
        remaining = workers
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    deinit {
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&condition)
    }

    func workerStarted(taskRunMode: TaskRunMode) {
        locked {
            if taskRunMode != .deferred { mode = taskRunMode }
            remaining -= 1
            pthread_cond_broadcast(&condition)
        }
    }

    func workerFailed(_ error: StartupError) {
        locked {
            if failure == nil { failure = error }
            remaining -= 1
            pthread_cond_broadcast(&condition)
        }
    }

    func workerFailedWhileRunning(_ error: StartupError) {
        locked { if failureWhileRunning == nil { failureWhileRunning = error } }
    }

    /// Blocks until every worker has either started or failed.
    func waitForStartup() -> (failure: StartupError?, taskRunMode: TaskRunMode) {
        locked {
            while remaining > 0 { pthread_cond_wait(&condition, &mutex) }
            decided = true
            pthread_cond_broadcast(&condition)
            return (failure, mode)
        }
    }

    /// Blocks a started worker until all have reported; false if any failed.
    var startupSucceeded: Bool {
        locked {
            while !decided { pthread_cond_wait(&condition, &mutex) }
            return failure == nil
        }
    }

    var runFailure: StartupError? { locked { failureWhileRunning } }

    private func locked<Result>(_ body: () -> Result) -> Result {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}
