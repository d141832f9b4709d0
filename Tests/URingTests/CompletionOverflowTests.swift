// Completion-queue overflow on a real ring: more completions than the queue holds arrive before
// anyone reaps. The kernel parks the rest (IORING_FEAT_NODROP) and hands them over as the queue
// drains; the event loop relies on that, so: every completion arrives, exactly once, in order.
import Glibc
import Testing
@testable import URing

@Suite struct CompletionOverflowTests {
    /// Reaps every completion, entering the kernel when none is ready so it flushes what it parked.
    private func reapAll(_ ring: Ring, expecting count: Int) throws -> [Completion] {
        var completions: [Completion] = []
        while completions.count < count {
            if ring.readyCompletions == 0 { try ring.submitAndWait(1) }
            ring.drainCompletions { completions.append($0) }
        }
        return completions
    }

    @Test func pollsCompletingAtOnceOverflowTheQueueAndEveryOneArrives() throws {
        let ring = try Ring(submissionEntries: 8, completionEntries: 32)
        defer { ring.close() }
        let readable = try readableEventfd()
        defer { close(readable) }
        // Each poll on a readable eventfd completes as soon as it is submitted: 200 of them into
        // a queue of 32 (submissions go in batches of 8 as the submission queue fills).
        for index in 0..<200 {
            ring.queuePoll(descriptor: readable, events: UInt32(POLLIN), userData: UserData(operation: 5, slot: UInt32(index), generation: 0))
        }
        try ring.submit()
        #expect(ring.hasOverflow, "200 completions fit in a queue of 32?")

        let completions = try reapAll(ring, expecting: 200)
        #expect(completions.map(\.userData.slot) == (0..<200).map(UInt32.init))
        #expect(completions.allSatisfy { $0.result & Int32(POLLIN) != 0 })
        #expect(!ring.hasOverflow && ring.readyCompletions == 0)
        #expect(ring.droppedCompletions == 0)
    }

    @Test func messagesFromAnotherRingOverflowTheQueueAndEveryOneArrivesInOrder() throws {
        let sender = try Ring(submissionEntries: 8, completionEntries: 32)
        defer { sender.close() }
        let receiver = try Ring(submissionEntries: 8, completionEntries: 32)
        defer { receiver.close() }
        let failure = UserData(operation: 7, slot: 0, generation: 0)
        for value in 0..<300 {
            sender.queueMessage(toRing: receiver.descriptor, value: UInt32(value),
                                userData: UserData(operation: 3, slot: UInt32(value), generation: 0), failureUserData: failure)
        }
        try sender.submit()
        #expect(sender.readyCompletions == 0, "a message failed: \(sender.completion(at: 0).result)")

        let completions = try reapAll(receiver, expecting: 300)
        #expect(completions.map(\.result) == (0..<300).map(Int32.init))
        #expect(completions.map(\.userData.slot) == (0..<300).map(UInt32.init))
        #expect(receiver.droppedCompletions == 0)
    }
}
