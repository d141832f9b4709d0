// Ring.drainCompletions, the one drain loop ringd's event loop and ring-client's workers share:
// every ready completion is visited once, in the order the kernel posted it, and all of them are
// released together, so the next drain starts on what arrived since.
import Glibc
import Testing
@testable import URing

@Suite struct DrainCompletionsTests {
    /// `count` one-shot polls on an eventfd that is already readable: each completes as soon as
    /// it is submitted, tagged with its index as the slot.
    private func queueReadyPolls(_ ring: Ring, on readable: Int32, slots: Range<Int>) {
        for slot in slots {
            ring.queuePoll(descriptor: readable, events: UInt32(POLLIN), userData: UserData(operation: 1, slot: UInt32(slot), generation: 0))
        }
    }

    @Test func visitsEveryReadyCompletionInOrderAndReleasesThemAll() throws {
        let ring = try Ring(submissionEntries: 16, completionEntries: 64)
        defer { ring.close() }
        let readable = try readableEventfd()
        defer { close(readable) }

        queueReadyPolls(ring, on: readable, slots: 0..<10)
        try ring.submitAndWait(10)
        #expect(ring.readyCompletions == 10)
        var visited: [UInt32] = []
        ring.drainCompletions { visited.append($0.userData.slot) }
        #expect(visited == (0..<10).map(UInt32.init))
        #expect(ring.readyCompletions == 0)

        // Nothing ready: the body is not called.
        var calls = 0
        ring.drainCompletions { _ in calls += 1 }
        #expect(calls == 0)

        // The next batch starts after the released one, not at the old head.
        queueReadyPolls(ring, on: readable, slots: 10..<13)
        try ring.submitAndWait(3)
        visited = []
        ring.drainCompletions { visited.append($0.userData.slot) }
        #expect(visited == [10, 11, 12])
        #expect(ring.readyCompletions == 0)
    }
}
