// Relay /msg and /who: a private line reaches its one target and nobody else, wherever in the
// hub it is and by whichever name, and a target on another hub is addressed by its worker, slot
// and number, which only that client answers to; errors are named to the sender alone; /who
// lists every client, across hubs that share a directory, in one line that stays within its
// bound whatever the crowd.

import RingdServices
import Testing

@Suite struct RelayMessageAndWhoTests {
    /// Four connected clients in slots 0...3, named client1...client4, with inboxes emptied.
    func fourClients() -> RelayNetwork {
        let network = RelayNetwork()
        for slot in 0..<4 { network.connect(slot) }
        _ = network.takeAll()
        return network
    }

    /// The names a /who line lists, and the N of its " and N more" (0 without one).
    func parseWho(_ line: String) -> (names: Set<String>, more: Int)? {
        guard line.hasPrefix("* online:"), line.hasSuffix("\n") else { return nil }
        var words = line.dropFirst("* online:".count).dropLast().split(separator: " ").map(String.init)
        var more = 0
        if words.count >= 3, words[words.count - 3] == "and", words.last == "more", let count = Int(words[words.count - 2]) {
            more = count
            words.removeLast(3)
        }
        return (Set(words), more)
    }

    @Test func aPrivateLineReachesItsTargetAlone() {
        let network = fourClients()
        network.say(0, "/msg client3 meet me at  noon \n")
        let received = network.takeAll()
        #expect(received[2] == ["client1 (private): meet me at  noon \n"])
        for slot in [0, 1, 3] { #expect(received[slot] == [], "slot \(slot) got \(received[slot]!)") }
    }

    @Test func aChosenNameIsATargetAndTheOldOneIsNot() {
        let network = fourClients()
        network.say(1, "/nick bob\n")
        _ = network.takeAll()
        network.say(3, "/msg   bob\thi bob\r\n")  // spaces before the name are skipped; a tab is part of the name
        #expect(network.take(3) == ["error: a name is 1 to 32 visible ASCII characters, without spaces\n"])
        network.say(3, "/msg bob hi bob\r\n")
        let received = network.takeAll()
        #expect(received[1] == ["client4 (private): hi bob\n"])
        #expect(received[3] == [])
        network.say(3, "/msg client2 are you there?\n")
        #expect(network.take(3) == ["error: no such client client2\n"])
        #expect(network.nobodyReceivedAnything())
    }

    @Test func aClientMayWriteToItself() {
        let network = fourClients()
        network.say(2, "/msg client3 note to self\n")
        let received = network.takeAll()
        #expect(received[2] == ["client3 (private): note to self\n"])
        for slot in [0, 1, 3] { #expect(received[slot] == []) }
    }

    @Test(arguments: [
        ("/msg nobody hello\n", "error: no such client nobody\n"),
        ("/msg client9 hello\n", "error: no such client client9\n"),
        ("/msg\n", "error: usage: /msg NAME text\n"),
        ("/msg \n", "error: usage: /msg NAME text\n"),
        ("/msg client2\n", "error: usage: /msg NAME text\n"),
        ("/msg client2   \n", "error: usage: /msg NAME text\n"),
        (
            "/msg \(String(repeating: "n", count: 33)) hello\n",
            "error: a name is 1 to 32 visible ASCII characters, without spaces\n"
        ),
        ("/msg café hello\n", "error: a name is 1 to 32 visible ASCII characters, without spaces\n"),
        ("/msgclient2 hello\n", "error: unknown command; commands are /msg NAME text, /who, /nick NAME and /quit\n"),
    ])
    func aBadMessageIsAnErrorToTheSenderAlone(line: String, error: String) {
        let network = fourClients()
        network.say(0, line)
        let received = network.takeAll()
        #expect(received[0] == [error])
        for slot in 1..<4 { #expect(received[slot] == []) }
    }

    @Test func aClientThatLeftIsNoLongerATarget() {
        let network = fourClients()
        network.say(1, "/nick bob\n")
        network.say(1, "/quit\n")
        network.hangUp(2)
        _ = network.takeAll()
        network.say(0, "/msg bob still there?\n")
        network.say(0, "/msg client3 still there?\n")
        #expect(network.take(0) == ["error: no such client bob\n", "error: no such client client3\n"])
    }

    @Test func aTargetOnAnotherHubIsAddressedByWorkerSlotAndNumber() throws {
        // Two workers' hubs sharing one directory: a /msg to the other one's client names it
        // wherever it is, and the engine posts the line there.
        let directory = LocalRelayDirectory()
        let east = RelayNetwork(
            options: RelayOptions(firstClientNumber: 1, clientNumberStride: 2, worker: 0), directory: directory)
        let west = RelayNetwork(
            options: RelayOptions(firstClientNumber: 2, clientNumberStride: 2, worker: 1), directory: directory)
        east.connect(0)
        west.connect(0)
        west.connect(1)
        east.connect(1)
        _ = east.takeAll()
        _ = west.takeAll()
        east.say(0, "/msg client3 same worker\n")
        #expect(east.take(1) == ["client1 (private): same worker\n"])
        #expect(east.elsewhere.isEmpty)
        east.say(0, "/msg client4  other worker \n")
        try #require(east.elsewhere.count == 1)
        #expect(east.elsewhere[0].address == RelayAddress(worker: 1, slot: 1, client: 4))
        #expect(east.elsewhere[0].line == "client1 (private): other worker \n")
        #expect(east.nobodyReceivedAnything())
        #expect(west.nobodyReceivedAnything())
    }

    @Test func aSlotHoldsItsClientUntilItLeavesNotALaterOneInTheSameSlot() {
        let network = fourClients()
        #expect(network.hub.holdsClient(3, inSlot: 2))
        #expect(!network.hub.holdsClient(2, inSlot: 2))
        #expect(!network.hub.holdsClient(3, inSlot: 99), "a slot outside the table holds nobody")
        network.say(2, "/nick carol\n")
        #expect(network.hub.holdsClient(3, inSlot: 2), "a rename keeps the client's number")
        network.hangUp(2)
        #expect(!network.hub.holdsClient(3, inSlot: 2))
        network.connect(2)
        #expect(network.hub.holdsClient(5, inSlot: 2))
        #expect(!network.hub.holdsClient(3, inSlot: 2), "the slot's new client is not the one that left")
    }

    @Test func whoListsEveryClientToTheAskerAlone() throws {
        let network = fourClients()
        network.say(1, "/nick bob\n")
        _ = network.takeAll()
        network.say(3, "/who\n")
        let received = network.takeAll()
        for slot in 0..<3 { #expect(received[slot] == []) }
        let answer = try #require(received[3]?.first.flatMap(parseWho), "\(received[3]!)")
        #expect(answer.names == ["client1", "bob", "client3", "client4"])
        #expect(answer.more == 0)
        #expect(received[3]!.count == 1)
        network.say(0, "/who is here\n")  // arguments are ignored
        #expect(network.take(0).first.flatMap(parseWho)?.names.count == 4)
    }

    @Test func whoSeesTheClientsOfEveryHubThatSharesTheDirectory() {
        let directory = LocalRelayDirectory()
        let east = RelayNetwork(
            options: RelayOptions(firstClientNumber: 1, clientNumberStride: 2, worker: 0), directory: directory)
        let west = RelayNetwork(
            options: RelayOptions(firstClientNumber: 2, clientNumberStride: 2, worker: 1), directory: directory)
        east.connect(0)
        west.connect(0)
        west.connect(1)
        west.say(1, "/nick wendy\n")
        west.hangUp(0)
        _ = east.takeAll()
        east.say(0, "/who\n")
        #expect(east.take(0).first.flatMap(parseWho)?.names == ["client1", "wendy"])
    }

    @Test func whoStaysWithinItsBoundAndCountsTheRest() throws {
        let network = RelayNetwork(capacity: 300)
        for slot in 0..<300 { network.connect(slot) }
        for slot in 0..<300 {
            let suffix = String(slot)
            network.say(slot, "/nick \(String(repeating: "x", count: 32 - suffix.count) + suffix)\n")
        }
        _ = network.takeAll()
        network.say(7, "/who\n")
        let line = try #require(network.take(7).first)
        #expect(line.utf8.count <= RelayFormat.whoLineLimit)
        let answer = try #require(parseWho(line), "\(line)")
        #expect(answer.names.count == 14, "as many 32-byte names as fit in 512 bytes with the tail")
        #expect(answer.names.count + answer.more == 300)
        #expect(answer.names.allSatisfy { $0.count == 32 && $0.hasPrefix("xxxx") })
    }

    @Test func everyLineTheHubWritesFitsItsAdvertisedLength() {
        let name = try! Array(String(repeating: "q", count: 32).utf8).withUnsafeBytes { try RelayName(naming: $0) }
        let errors: [RelayError] = [
            .invalidName, .reservedName, .nameTaken(name), .alreadyNamed(name), .noSuchClient(name), .messageUsage,
            .unknownCommand,
        ]
        for error in errors {
            let line = rendered { _ = RelayFormat.writeError(error, into: &$0) }
            #expect(line.utf8.count <= RelayFormat.maximumLineCount(maxLine: 1), "\(line)")
            #expect(line.hasPrefix("error: ") && line.hasSuffix("\n"))
        }
        let maxLine = 64
        let text = Array(repeating: UInt8(ascii: "t"), count: maxLine)
        let privateLine = text.withUnsafeBytes { text in
            rendered { _ = RelayFormat.writePrivate(from: name, text: text, into: &$0) }
        }
        #expect(privateLine.utf8.count <= RelayFormat.maximumLineCount(maxLine: maxLine))
    }
}
