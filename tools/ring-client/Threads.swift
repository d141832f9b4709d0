// Threads: a POSIX thread per benchmark worker, each with its own ring.
//
// The ring is set up with SINGLE_ISSUER | DEFER_TASKRUN, which ties it to the thread that creates
// it, so a worker builds its ring on its own thread and nothing else ever touches it. pthreads
// rather than Foundation's Thread keeps Foundation out of the tool.

#if canImport(Glibc)
import Glibc
#endif

/// A started thread, joined exactly once.
struct WorkerThread {
    private let handle: pthread_t

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Starts `body` on a new thread. The thread owns a retained box holding `body` until it ends.
    init(_ body: @escaping @Sendable () -> Void) throws(ClientError) {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var handle = pthread_t()
        let result = pthread_create(&handle, nil, { raw in
            let body = Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue()
            body.run()
            return nil
        }, box)
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(box).release()
            throw ClientError("pthread_create failed: \(result)")
        }
        self.handle = handle
    }

    /// Waits for the thread to end. Everything it wrote is visible to the caller afterwards.
    func join() {
        pthread_join(handle, nil)
    }
}
