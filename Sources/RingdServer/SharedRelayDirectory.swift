// SharedRelayDirectory: every relay client's name and where it is, shared by every worker's hub,
// so that /nick refuses a name a client on another worker holds, /who lists every client and
// /msg finds its target on any worker.
//
// A pthread mutex guards it. It is taken when a relay client connects or leaves and for /nick,
// /msg and /who, each time for one hash-table operation (or, for /who, a walk of at most as many
// names as fit in one line), never for a chat line, so the workers do not contend on the
// per-line path. The server sizes the table for the first 1,024 clients of each worker; it grows
// by doubling after that, so its allocations are rare and never per line. (Not Synchronization's
// `Mutex`: on Linux that one hands a contended lock over inside the kernel, where
// ThreadSanitizer cannot see the ordering; see WorkerGroup.)

import RingdServices

#if canImport(Glibc)
    import Glibc
#endif

final class SharedRelayDirectory: RelayDirectory, @unchecked Sendable {
    // @unchecked: `addresses` is only touched under `mutex`.
    private var mutex = pthread_mutex_t()
    private var addresses: [RelayName: RelayAddress]

    /// A directory with room for `clients` names before its table grows.
    init(reservingFor clients: Int) {
        addresses = Dictionary(minimumCapacity: clients)
        pthread_mutex_init(&mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(&mutex)
    }

    func claim(_ name: RelayName, for address: RelayAddress) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard addresses[name] == nil else { return false }
        addresses[name] = address
        return true
    }

    func release(_ name: RelayName) {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        addresses[name] = nil
    }

    func find(_ name: RelayName) -> RelayAddress? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return addresses[name]
    }

    func listNames(while body: (RelayName) -> Bool) -> Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        for name in addresses.keys where !body(name) { break }
        return addresses.count
    }
}
