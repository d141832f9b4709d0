// The parent suite of the hardening tests (drain, connection limits, idle timeouts, bad input,
// faults, the descriptor limit). Each of them opens hundreds or thousands of connections or holds
// tens of megabytes in flight, so they run one at a time, not side by side: on a small shared
// machine that keeps the load of this set to about one client thread and one ringd at once.
// Each feature's tests are a suite of their own, in its own file, nested here by an extension.
import Testing

@Suite("Hardening", .serialized)
struct HardeningTests {}
