// The two submissions the services add: a repeating timeout (the broadcast heartbeat) and a
// message to another ring (the relay doorbell and the hand-back of relayed chunks), on real rings.
import Glibc
import Testing
@testable import URing

@Suite struct TimersAndMessagesTests {
    @Test func repeatingTimeoutFiresAgainWithoutBeingRearmed() throws {
        let ring = try Ring(submissionEntries: 8, completionEntries: 32)
        defer { ring.close() }
        let storage = TimeoutStorage(count: 1)
        defer { storage.deallocate() }
        let tag = UserData(operation: 9, slot: 0, generation: 0)
        ring.queueRepeatingTimeout(every: .milliseconds(2), storage: storage, index: 0, userData: tag)
        for _ in 0..<5 {
            let completion = try nextCompletion(ring)
            #expect(completion.userData == tag)
            #expect(completion.result == -ETIME)
            #expect(completion.hasMore, "the timeout stopped repeating")
        }
    }

    @Test func messageReachesTheOtherRingWithItsValueAndSendsNothingBackOnSuccess() throws {
        let sender = try Ring(submissionEntries: 8, completionEntries: 32)
        defer { sender.close() }
        let receiver = try Ring(submissionEntries: 8, completionEntries: 32)
        defer { receiver.close() }
        let failure = UserData(operation: 7, slot: 0, generation: 0)
        for value in [UInt32(0), 1, 4242] {
            let tag = UserData(operation: 3, slot: value, generation: value &* 3)
            sender.queueMessage(toRing: receiver.descriptor, value: value, userData: tag, failureUserData: failure)
            try sender.submit()
            let completion = try nextCompletion(receiver)
            #expect(completion.userData == tag)
            #expect(completion.result == Int32(value))
        }
        #expect(sender.readyCompletions == 0, "a successful message left a completion on the sender")
    }

    @Test func messageToSomethingThatIsNotARingReportsTheFailure() throws {
        let sender = try Ring(submissionEntries: 8, completionEntries: 32)
        defer { sender.close() }
        let failure = UserData(operation: 7, slot: 1, generation: 2)
        let notARing = open("/dev/null", O_RDONLY)
        defer { close(notARing) }
        sender.queueMessage(toRing: notARing, value: 1, userData: UserData(operation: 3, slot: 0, generation: 0), failureUserData: failure)
        let completion = try nextCompletion(sender)
        #expect(completion.userData == failure)
        #expect(completion.result == -EBADFD)
    }
}
