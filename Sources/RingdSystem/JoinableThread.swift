// JoinableThread: a POSIX thread running a Swift closure, joined exactly once.
//
// ringd runs one event loop per thread and ring-client one benchmark worker per thread. Each
// sets up its ring with SINGLE_ISSUER | DEFER_TASKRUN, which ties the ring to the thread that
// creates it, so the closure builds its ring on its own thread. pthreads rather than
// Foundation's Thread keeps Foundation out of both executables.

#if canImport(Glibc)
    import Glibc
#endif

/// A started thread. Join it exactly once; everything it wrote is visible afterwards.
public struct JoinableThread: @unchecked Sendable {
    // @unchecked: pthread_t is an integer handle; joining is the only use and happens once.
    private let handle: pthread_t

    private final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Starts `body` on a new thread, which owns a retained box holding `body` until it ends.
    /// Throws pthread_create's error number when the thread could not be started.
    public init(_ body: @escaping @Sendable () -> Void) throws(SystemCallError) {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var handle = pthread_t()
        let result = pthread_create(
            &handle, nil,
            { raw in
                Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
                return nil
            }, box)
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(box).release()
            throw SystemCallError("pthread_create", errno: result)
        }
        self.handle = handle
    }

    /// Waits for the thread to end.
    public func join() {
        pthread_join(handle, nil)
    }
}
