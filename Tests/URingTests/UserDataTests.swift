import Testing
@testable import URing

@Suite struct UserDataTests {
    @Test func packsAndUnpacksEveryField() {
        let cases: [(UInt8, UInt32, UInt32)] = [
            (0, 0, 0), (1, 1, 1), (255, UserData.maximumSlot, .max), (7, 123_456, 0xDEAD_BEEF), (3, 0, .max),
        ]
        for (operation, slot, generation) in cases {
            let tag = UserData(operation: operation, slot: slot, generation: generation)
            #expect(tag.operation == operation)
            #expect(tag.slot == slot)
            #expect(tag.generation == generation)
            #expect(UserData(rawValue: tag.rawValue) == tag)
        }
    }

    @Test func layoutMatchesTheDocumentedBits() {
        let tag = UserData(operation: 0xAB, slot: 0x12_3456, generation: 0x89AB_CDEF)
        #expect(tag.rawValue == 0x89AB_CDEF_1234_56AB)
        #expect(MemoryLayout<UserData>.size == MemoryLayout<UInt64>.size)
    }

    @Test func generationsDistinguishOccupantsOfOneSlot() {
        let old = UserData(operation: 2, slot: 42, generation: 7)
        let new = UserData(operation: 2, slot: 42, generation: 8)
        #expect(old != new)
        #expect(old.slot == new.slot)
    }
}
