// Relay: four clients on one hub. Lines reach every other client and never the sender, each
// sender's lines arrive in the order sent, /nick and /quit behave, and notices are optional.

import RingdServices
import Testing

/// A hub and what each client has received, carrying out actions the way the event loop will:
/// in order, resolving recipients against the clients still connected.
final class RelayNetwork {
    var hub: RelayHub<LocalRelayDirectory>
    let scratch = ScratchWriter(capacity: RelayFormat.maximumHubOutputCount(maxLine: 1024))
    private(set) var inbox: [Int: [String]] = [:]
    private(set) var connected: Set<Int> = []
    private(set) var closedByHub: [Int] = []
    /// With a cluster: what the hub published, and what it asked of Redis (a private line's
    /// bytes in `privateLines`), in order, until taken.
    var published: [String] = []
    var requests: [ClusterRequest] = []
    var privateLines: [String] = []
    /// Lines for clients of other hubs (`.client` sends), in order, and where they go.
    private(set) var elsewhere: [(address: RelayAddress, line: String)] = []

    init(capacity: Int = 8, options: RelayOptions = RelayOptions(), directory: LocalRelayDirectory = LocalRelayDirectory()) {
        hub = RelayHub(capacity: capacity, options: options, directory: directory)
    }

    func connect(_ slot: Int) {
        connected.insert(slot)
        inbox[slot] = []
        scratch.writer.reset()
        carryOut(hub.opened(slot, peer: loopbackPeer, context: anyContext, into: &scratch.writer))
    }

    /// The client in `slot` sends `text`, one line (its terminator included).
    func say(_ slot: Int, _ text: String) {
        scratch.writer.reset()
        let actions = withLine(text) { hub.received($0, from: slot, into: &scratch.writer) }
        carryOut(actions)
    }

    /// The connection in `slot` ends (the server noticed the peer closed).
    func hangUp(_ slot: Int) {
        connected.remove(slot)
        scratch.writer.reset()
        carryOut(hub.closed(slot, into: &scratch.writer))
    }

    /// A message on the relay channel, from another host or this one.
    func hear(_ message: String) {
        scratch.writer.reset()
        carryOut(Array(message.utf8).withUnsafeBytes { hub.upstream($0, context: anyContext, into: &scratch.writer) })
    }

    /// Redis's answer to a request.
    func answer(_ answer: ClusterAnswer) {
        scratch.writer.reset()
        carryOut(hub.clusterAnswered(answer, context: anyContext, into: &scratch.writer))
    }

    /// Everything `slot` has received since the last call, and forgets it.
    func take(_ slot: Int) -> [String] {
        defer { inbox[slot] = [] }
        return inbox[slot] ?? []
    }

    /// True when no client has received anything since the last take; empties the inboxes.
    func nobodyReceivedAnything() -> Bool {
        takeAll().values.allSatisfy { $0.isEmpty }
    }

    func takeAll() -> [Int: [String]] {
        defer { for slot in inbox.keys { inbox[slot] = [] } }
        return inbox
    }

    private func carryOut(_ actions: ServiceActions) {
        for action in actions {
            switch action {
            case .send(let range, let recipients):
                let line = scratch.text(range)
                let slots: Set<Int> = switch recipients {
                case .one(let slot): connected.intersection([slot])
                case .allExcept(let slot): connected.subtracting([slot])
                case .everyone: connected
                case .client: []
                }
                if case .client(let address) = recipients { elsewhere.append((address, line)) }
                for slot in slots { inbox[slot, default: []].append(line) }
            case .closeAfterOutput(let slot):
                closedByHub.append(slot)
                connected.remove(slot)
                // The server calls disconnect for every connection it closes; after /quit the
                // hub has already let the client go, so this must add nothing.
                let writer = scratch.writer.count
                let after = hub.closed(slot, into: &scratch.writer)
                #expect(after.isEmpty)
                #expect(scratch.writer.count == writer)
            case .publish(let range):
                published.append(scratch.text(range))
            case .cluster(let request):
                requests.append(request)
                if case .sendPrivate(_, _, let range) = request { privateLines.append(scratch.text(range)) }
            case .pauseReading, .resumeReading:
                Issue.record("the hub never pauses a client: \(action)")
            }
        }
    }
}

@Suite struct RelayTests {
    /// Four connected clients in slots 0...3, named client1...client4, with inboxes emptied.
    func fourClients(_ options: RelayOptions = RelayOptions()) -> RelayNetwork {
        let network = RelayNetwork(options: options)
        for slot in 0..<4 { network.connect(slot) }
        _ = network.takeAll()
        return network
    }

    @Test func newClientsAreWelcomedAndAnnouncedToTheOthers() {
        let network = RelayNetwork()
        network.connect(0)
        #expect(network.take(0) == ["* you are client1\n"])
        network.connect(5)
        #expect(network.take(5) == ["* you are client2\n"])
        #expect(network.take(0) == ["* client2 joined\n"])
        #expect(network.hub.clientCount == 2)
        #expect(network.hub.name(ofSlot: 5)?.description == "client2")
    }

    @Test func aLineReachesEveryOtherClientAndNotTheSender() {
        let network = fourClients()
        network.say(1, "hello all\n")
        let received = network.takeAll()
        #expect(received[1] == [])
        for slot in [0, 2, 3] { #expect(received[slot] == ["client2: hello all\n"]) }
    }

    @Test func eachSendersLinesArriveInOrderAndComplete() {
        let network = fourClients()
        var generator = SeededGenerator(seed: 2024)
        var nextLine = [0, 0, 0, 0]
        while nextLine.contains(where: { $0 < 50 }) {
            let sender = Int.random(in: 0..<4, using: &generator)
            guard nextLine[sender] < 50 else { continue }
            network.say(sender, "line \(nextLine[sender])\n")
            nextLine[sender] += 1
        }
        let received = network.takeAll()
        for receiver in 0..<4 {
            for sender in 0..<4 {
                let fromSender = received[receiver]!.filter { $0.hasPrefix("client\(sender + 1): ") }
                let expected = sender == receiver ? [] : (0..<50).map { "client\(sender + 1): line \($0)\n" }
                #expect(fromSender == expected, "client\(receiver + 1) got client\(sender + 1)'s lines out of order or incomplete")
            }
            #expect(received[receiver]!.count == 150)
        }
    }

    @Test func crlfLinesAreRelayedWithABareNewlineAndEmptyLinesAreDropped() {
        let network = fourClients()
        network.say(0, "windows\r\n")
        network.say(0, "\r\n")
        network.say(0, "\n")
        #expect(network.take(2) == ["client1: windows\n"])
    }

    @Test func nickRenamesAndTellsEveryone() {
        let network = fourClients()
        network.say(0, "/nick alice\n")
        for slot in 0..<4 { #expect(network.take(slot) == ["* client1 is now alice\n"]) }
        network.say(0, "hi\r\n")
        #expect(network.take(3) == ["alice: hi\n"])
        #expect(network.hub.name(ofSlot: 0)?.description == "alice")
    }

    @Test(arguments: ["/nick\n", "/nick \n", "/nick two words\n", "/nick tab\there\n",
                      "/nick \(String(repeating: "n", count: 33))\n", "/nick café\n"])
    func anInvalidNameIsAnErrorToTheSenderAlone(line: String) {
        let network = fourClients()
        network.say(2, line)
        let received = network.takeAll()
        #expect(received[2] == ["error: a name is 1 to 32 visible ASCII characters, without spaces\n"])
        for slot in [0, 1, 3] { #expect(received[slot] == []) }
        #expect(network.hub.name(ofSlot: 2)?.description == "client3")
    }

    @Test func theLongestAndOddestValidNamesAreAccepted() {
        let network = fourClients()
        let longest = String(repeating: "z", count: 32)
        network.say(0, "/nick \(longest)\n")
        #expect(network.take(1) == ["* client1 is now \(longest)\n"])
        _ = network.takeAll()
        network.say(1, "/nick   !~{}[]\n")  // spaces before the name are skipped
        #expect(network.take(2) == ["* client2 is now !~{}[]\n"])
    }

    @Test func aNameInUseIsACollision() {
        let network = fourClients()
        network.say(0, "/nick alice\n")
        _ = network.takeAll()
        network.say(1, "/nick alice\n")
        let received = network.takeAll()
        #expect(received[1] == ["error: the name alice is taken\n"])
        #expect(received[0] == [])
        #expect(network.hub.name(ofSlot: 1)?.description == "client2")
        network.say(0, "/nick alice\n")
        #expect(network.take(0) == ["error: you are already alice\n"])
    }

    @Test func chosenNamesAreUniqueAcrossHubsThatShareTheirDirectory() {
        // Two workers' hubs, as in the server: one directory of names.
        let directory = LocalRelayDirectory()
        let east = RelayNetwork(options: RelayOptions(firstClientNumber: 1, clientNumberStride: 2, worker: 0), directory: directory)
        let west = RelayNetwork(options: RelayOptions(firstClientNumber: 2, clientNumberStride: 2, worker: 1), directory: directory)
        east.connect(0)
        west.connect(0)
        _ = east.takeAll()
        _ = west.takeAll()

        east.say(0, "/nick bob\n")
        #expect(east.take(0) == ["* client1 is now bob\n"])
        west.say(0, "/nick bob\n")
        #expect(west.take(0) == ["error: the name bob is taken\n"])
        #expect(west.hub.name(ofSlot: 0)?.description == "client2")

        // A name is free again once its holder takes another...
        east.say(0, "/nick robert\n")
        #expect(east.take(0) == ["* bob is now robert\n"])
        west.say(0, "/nick bob\n")
        #expect(west.take(0) == ["* client2 is now bob\n"])
        // ...or leaves.
        east.hangUp(0)
        west.say(0, "/nick robert\n")
        #expect(west.take(0) == ["* bob is now robert\n"])
        east.connect(1)
        east.say(1, "/nick bob\n")
        #expect(east.take(1) == ["* you are client3\n", "* client3 is now bob\n"])
    }

    @Test func defaultNamesAreReservedSoTheyNeverCollide() {
        let network = fourClients()
        network.say(0, "/nick client9\n")
        #expect(network.take(0) == ["error: names like client7 are given to new clients; choose another\n"])
        network.say(0, "/nick client\n")  // not a number: allowed
        #expect(network.take(0) == ["* client1 is now client\n"])
    }

    @Test func quitAnnouncesTheLeaveClosesAndIgnoresTheRestOfTheRead() {
        let network = fourClients()
        network.say(0, "/nick alice\n")
        _ = network.takeAll()
        network.say(0, "/quit bye now\n")
        #expect(network.closedByHub == [0])
        let received = network.takeAll()
        #expect(received[0] == [])
        for slot in 1..<4 { #expect(received[slot] == ["* alice left\n"]) }
        network.say(0, "still here?\n")  // a later line from the same read
        #expect(network.nobodyReceivedAnything())
        #expect(network.hub.clientCount == 3)
        // The name is free again.
        network.say(1, "/nick alice\n")
        #expect(network.take(2) == ["* client2 is now alice\n"])
    }

    @Test func aDroppedConnectionIsAnnouncedOnce() {
        let network = fourClients()
        network.hangUp(3)
        for slot in 0..<3 { #expect(network.take(slot) == ["* client4 left\n"]) }
        network.hangUp(3)
        #expect(network.nobodyReceivedAnything())
        #expect(network.hub.clientCount == 3)
    }

    @Test func aSlotIsReusedWithAFreshName() {
        let network = fourClients()
        network.hangUp(2)
        network.connect(2)
        #expect(network.take(2) == ["* you are client5\n"])
    }

    @Test func unknownCommandsAreErrorsNotChat() {
        let network = fourClients()
        network.say(0, "/join #swift\n")
        network.say(0, "/nickname bob\n")
        let received = network.takeAll()
        let error = "error: unknown command; commands are /msg NAME text, /who, /nick NAME and /quit\n"
        #expect(received[0] == [error, error])
        #expect(received[1] == [])
    }

    @Test func withoutNoticesOnlyChatAndTheSendersOwnRenameAreSent() {
        let network = RelayNetwork(options: RelayOptions(notices: false, welcome: false))
        for slot in 0..<4 { network.connect(slot) }
        #expect(network.nobodyReceivedAnything())
        network.say(0, "/nick alice\n")
        #expect(network.take(0) == ["* client1 is now alice\n"])
        #expect(network.take(1) == [])
        network.say(0, "/quit\n")
        network.hangUp(1)
        #expect(network.nobodyReceivedAnything())
        #expect(network.closedByHub == [0])
    }

    @Test func clientNumbersFollowTheConfiguredStride() {
        let network = RelayNetwork(options: RelayOptions(firstClientNumber: 2, clientNumberStride: 4))
        network.connect(0)
        network.connect(1)
        #expect(network.take(1) == ["* you are client6\n"])
    }

    @Test func bytesPassThroughUnchanged() {
        let network = fourClients()
        network.say(0, "nul\u{0}byte é\n")
        #expect(network.take(1) == ["client1: nul\u{0}byte é\n"])
    }

    @Test func aWorkerRendersTheSameLineTheHubSends() throws {
        let network = fourClients()
        network.say(0, "fan me out\n")
        let name = try #require(network.hub.name(ofSlot: 0))
        let line = Array("fan me out".utf8).withUnsafeBytes { text in
            rendered { _ = RelayFormat.writeChat(from: name, text: text, into: &$0) }
        }
        #expect(network.take(1) == [line])
        #expect(rendered { _ = RelayFormat.writeJoined(name, into: &$0) } == "* client1 joined\n")
        #expect(rendered { _ = RelayFormat.writeLeft(name, into: &$0) } == "* client1 left\n")
    }

    @Test func theLongestLineFitsTheAdvertisedOutputSize() {
        let maxLine = 100
        var hub = RelayHub(capacity: 2)
        let scratch = ScratchWriter(capacity: RelayFormat.maximumHubOutputCount(maxLine: maxLine))
        _ = hub.opened(0, peer: loopbackPeer, context: anyContext, into: &scratch.writer)
        scratch.writer.reset()
        let longest = "/nick " + String(repeating: "m", count: 32)
        withLine(longest + "\n") { _ = hub.received($0, from: 0, into: &scratch.writer) }
        scratch.writer.reset()
        let actions = withLine(String(repeating: "w", count: maxLine - 1) + "\r\n") { hub.received($0, from: 0, into: &scratch.writer) }
        #expect(actions.count == 1)
        #expect(scratch.writer.count == 32 + 2 + maxLine - 1 + 1)
    }
}
