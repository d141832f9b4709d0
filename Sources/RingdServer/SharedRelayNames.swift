// SharedRelayNames: the names relay clients chose, shared by every worker's hub, so that /nick
// refuses a name a client on another worker holds.
//
// A pthread mutex guards it. It is taken only for /nick and when a renamed client leaves, never
// for a chat line, so the workers do not contend on the per-line path. (Not Synchronization's
// `Mutex`: on Linux that one hands a contended lock over inside the kernel, where
// ThreadSanitizer cannot see the ordering; see WorkerGroup.)

import RingdServices

#if canImport(Glibc)
    import Glibc
#endif

final class SharedRelayNames: RelayNameClaims, @unchecked Sendable {
    // @unchecked: `taken` is only touched under `mutex`.
    private var mutex = pthread_mutex_t()
    private var taken: Set<RelayName> = []

    init() {
        pthread_mutex_init(&mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(&mutex)
    }

    func claim(_ name: RelayName) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return taken.insert(name).inserted
    }

    func release(_ name: RelayName) {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        taken.remove(name)
    }
}
