// SystemNames: RingdSystem's names for the RingdServer files that do not import it yet.
//
// ServiceState.swift and EventLoop.swift use SocketAddress, writeAll and CoarseClock, which now
// live in RingdSystem. They are being rewritten on another branch, so instead of adding an
// import to them here, these module-wide aliases keep them compiling. Delete this file once
// they `import RingdSystem` themselves; nothing else depends on it.

import RingdSystem

typealias SocketAddress = RingdSystem.SocketAddress
typealias CoarseClock = RingdSystem.CoarseClock

/// RingdSystem.writeAll, which gives up on a full descriptor: workers never wait on stdout.
@inline(__always)
func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) {
    RingdSystem.writeAll(descriptor, bytes)
}
