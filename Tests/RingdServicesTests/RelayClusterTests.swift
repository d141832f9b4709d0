// Relay with a cluster, as pure code: the hub of host "web1" publishes what goes to everyone with
// its header, takes other hosts' lines for its own clients only, waits for Redis before a
// rename, and handles every answer, late or lost, the way RelayCluster.swift says.

import RingdServices
import Testing

@Suite struct RelayClusterTests {
    static let node = name("web1")

    static func name(_ text: String) -> RelayName {
        Array(text.utf8).withUnsafeBytes { try! RelayName(naming: $0) }
    }

    /// Clients in slots 0...2 of host web1, with inboxes and requests emptied.
    func threeClients(notices: Bool = true) -> RelayNetwork {
        let network = RelayNetwork(options: RelayOptions(notices: notices, node: Self.node))
        for slot in 0..<3 { network.connect(slot) }
        _ = network.takeAll()
        network.published = []
        network.requests = []
        return network
    }

    func claim(_ name: String, slot: Int, client: UInt64) -> ClusterClaim {
        ClusterClaim(name: Self.name(name), slot: slot, client: client)
    }

    @Test func defaultNamesEndInTheNodeAndAreRegisteredWithTheJoin() {
        let network = RelayNetwork(options: RelayOptions(node: Self.node))
        network.connect(0)
        network.connect(1)
        #expect(network.take(1) == ["* you are client2@web1\n"])
        #expect(network.take(0) == ["* you are client1@web1\n", "* client2@web1 joined\n"])
        #expect(network.published == ["Eweb1 * client1@web1 joined\n", "Eweb1 * client2@web1 joined\n"])
        #expect(network.requests == [.claim(claim("client1@web1", slot: 0, client: 1)), .claim(claim("client2@web1", slot: 1, client: 2))])
    }

    @Test func reservedNamesIncludeEveryHostsDefaults() {
        let network = threeClients()
        for taken in ["client7@web2", "client12@x@y", "client7"] {
            network.say(0, "/nick \(taken)\n")
            #expect(network.take(0) == ["error: names like client7 are given to new clients; choose another\n"], "\(taken)")
        }
        network.say(0, "/nick client@web2\n")
        #expect(network.requests == [.claim(claim("client@web2", slot: 0, client: 1))])
        #expect(RelayName.numbered(123_456_789, node: Self.name("sixteen-bytes-xy")).description == "client123456789@sixteen-bytes-xy")
    }

    @Test func chatGoesToTheOthersHereAndOnceToTheOtherHosts() {
        let network = threeClients()
        network.say(1, "hello\n")
        #expect(network.takeAll() == [0: ["client2@web1: hello\n"], 1: [], 2: ["client2@web1: hello\n"]])
        #expect(network.published == ["Eweb1 client2@web1: hello\n"])
        network.hangUp(2)
        #expect(network.published.last == "Eweb1 * client3@web1 left\n")
        #expect(network.requests == [.release(claim("client3@web1", slot: 2, client: 3))])
    }

    @Test func otherHostsLinesReachEveryClientHereAndOwnOnesNone() {
        let network = threeClients()
        network.hear("Eweb2 client4@web2: from afar\n")
        #expect(network.takeAll() == [0: ["client4@web2: from afar\n"], 1: ["client4@web2: from afar\n"], 2: ["client4@web2: from afar\n"]])
        for ignored in [
            "Eweb1 client1@web1: mine\n", "Xweb2 what\n", "Eweb2 no line feed", "E nobody\n", "Pweb2 client2@web1\n",
            "Eweb2 two\nlines\n",
        ] {
            network.hear(ignored)
            #expect(network.nobodyReceivedAnything(), "\(ignored.debugDescription)")
        }
        #expect(network.published.isEmpty && network.requests.isEmpty)
    }

    @Test func nickWaitsForRedisAndIsAnnouncedEverywhere() {
        let network = threeClients()
        network.say(0, "/nick ann\n")
        #expect(network.nobodyReceivedAnything())
        #expect(network.requests == [.claim(claim("ann", slot: 0, client: 1))])
        network.say(0, "/nick bea\n")
        #expect(network.take(0) == ["error: your last /nick is still waiting for an answer from the other hosts\n"])
        // Held here meanwhile: another client of this host cannot take it.
        network.say(1, "/nick ann\n")
        #expect(network.take(1) == ["error: the name ann is taken\n"])

        network.requests = []
        network.answer(.claimed(claim("ann", slot: 0, client: 1), granted: true))
        #expect(network.takeAll() == [0: ["* client1@web1 is now ann\n"], 1: ["* client1@web1 is now ann\n"], 2: ["* client1@web1 is now ann\n"]])
        #expect(network.published == ["Eweb1 * client1@web1 is now ann\n"])
        #expect(network.requests == [.release(claim("client1@web1", slot: 0, client: 1))])
        network.say(0, "hi\n")
        #expect(network.take(1) == ["ann: hi\n"])
    }

    @Test func aNameHeldOnAnotherHostIsRefusedAndFreeHere() {
        let network = threeClients()
        network.say(0, "/nick ann\n")
        network.answer(.claimed(claim("ann", slot: 0, client: 1), granted: false))
        #expect(network.takeAll() == [0: ["error: the name ann is taken\n"], 1: [], 2: []])
        network.say(1, "/nick ann\n")
        #expect(network.requests.last == .claim(claim("ann", slot: 1, client: 2)))
    }

    @Test func redisDownRefusesANickAndKeepsTheName() {
        let network = threeClients()
        network.say(0, "/nick ann\n")
        network.answer(.failed(.claim(claim("ann", slot: 0, client: 1))))
        #expect(network.take(0) == ["error: the other hosts cannot be reached now; try again later\n"])
        network.say(0, "still here\n")
        #expect(network.take(1) == ["client1@web1: still here\n"])
    }

    @Test func anAnswerForAClientThatLeftLetsTheNameGo() {
        let network = threeClients()
        network.say(0, "/nick ann\n")
        network.hangUp(0)
        network.requests = []
        network.answer(.claimed(claim("ann", slot: 0, client: 1), granted: true))
        #expect(network.requests == [.release(claim("ann", slot: 0, client: 1))])
        // A newcomer in the same slot is not the client the answer was for.
        network.connect(0)
        _ = network.takeAll()
        network.say(0, "/nick ann\n")
        #expect(network.requests.last == .claim(claim("ann", slot: 0, client: 4)))
    }

    @Test func aLostNameRenamesItsHolderToItsDefault() {
        let network = threeClients()
        network.say(2, "/nick cat\n")
        network.answer(.claimed(claim("cat", slot: 2, client: 3), granted: true))
        _ = network.takeAll()
        network.published = []
        network.requests = []
        network.answer(.lost(claim("cat", slot: 2, client: 3)))
        #expect(network.takeAll() == [0: ["* cat is now client3@web1\n"], 1: ["* cat is now client3@web1\n"], 2: ["* cat is now client3@web1\n"]])
        #expect(network.published == ["Eweb1 * cat is now client3@web1\n"])
        #expect(network.requests == [.claim(claim("client3@web1", slot: 2, client: 3))])
        // A loss of a name the client no longer has changes nothing.
        network.answer(.lost(claim("cat", slot: 2, client: 3)))
        #expect(network.nobodyReceivedAnything())
    }

    @Test func privateLinesGoThroughRedisToTheHolderAlone() {
        let network = threeClients()
        network.say(0, "/msg zed  psst\n")
        #expect(network.nobodyReceivedAnything())
        #expect(network.privateLines == ["Pweb1 zed client1@web1 (private): psst\n"])
        network.answer(.privateSent(from: claim("client1@web1", slot: 0, client: 1), target: Self.name("zed"), delivered: false))
        #expect(network.take(0) == ["error: no such client zed\n"])
        network.answer(.failed(.sendPrivate(from: claim("client1@web1", slot: 0, client: 1), target: Self.name("zed"), bytes: 0..<0)))
        #expect(network.take(0) == ["error: the other hosts cannot be reached now; try again later\n"])

        network.hear("Pweb2 client2@web1 zed@web2 (private): hello two\n")
        #expect(network.takeAll() == [0: [], 1: ["zed@web2 (private): hello two\n"], 2: []])
        network.hear("Pweb2 client9@web1 zed (private): nobody\n")
        #expect(network.nobodyReceivedAnything())
    }

    @Test func whoListsEveryHostOrThisOneWithoutRedis() {
        let network = threeClients()
        network.say(1, "/who\n")
        let asker = claim("client2@web1", slot: 1, client: 2)
        #expect(network.requests == [.listNames(for: asker)])
        Array("ann client5@web2 zed ".utf8).withUnsafeBytes { listed in
            network.answer(.names(for: asker, total: 5, listed: listed))
        }
        #expect(network.takeAll() == [0: [], 1: ["* online: ann client5@web2 zed and 2 more\n"], 2: []])
        network.answer(.failed(.listNames(for: asker)))
        let line = network.take(1).first ?? ""
        #expect(Set(line.dropFirst("* online: ".count).dropLast().split(separator: " ")) == ["client1@web1", "client2@web1", "client3@web1"])
    }

    @Test func withoutNoticesARenameIsConfirmedToItsClientAlone() {
        let network = threeClients(notices: false)
        network.say(0, "/nick ann\n")
        network.answer(.claimed(claim("ann", slot: 0, client: 1), granted: true))
        #expect(network.takeAll() == [0: ["* client1@web1 is now ann\n"], 1: [], 2: []])
        #expect(network.published.isEmpty)
    }
}

extension RelayClusterTests {
    @Test func claimsAreListedFromASlotOnAndTheListingGoesOnWhereItStopped() {
        let network = RelayNetwork(options: RelayOptions(node: Self.node))
        for slot in [0, 2, 3, 6] { network.connect(slot) }
        var given: [String] = []
        var next = network.hub.forEachClaim(from: 0) { claim in
            guard given.count < 2 else { return false }
            given.append(claim.name.description)
            return true
        }
        #expect(given == ["client1@web1", "client2@web1"] && next == 3)
        next = network.hub.forEachClaim(from: next!) { claim in
            given.append(claim.name.description)
            return true
        }
        #expect(given == ["client1@web1", "client2@web1", "client3@web1", "client4@web1"] && next == nil)
        #expect(RelayNetwork().hub.forEachClaim(from: 0) { _ in true } == nil)
    }
}

extension RelayClusterTests {
    /// Redis's bytes are input like any other: whatever a channel message holds, the hub sends at
    /// most its line to its own clients and asks nothing of Redis.
    @Test func arbitraryChannelMessagesNeverTrapAndOnlyRelayLinesAreSent() {
        let network = threeClients()
        var generator = SystemRandomNumberGenerator()
        let pieces = ["E", "P", "web1", "web2", " ", "client1@web1", "client2@web1", "\n", "x", "\r", "\0", "(private): "]
        for _ in 0..<2000 {
            let count = Int.random(in: 0...8, using: &generator)
            let message = (0..<count).map { _ in pieces.randomElement(using: &generator)! }.joined()
            network.hear(message)
            for (_, lines) in network.takeAll() {
                for line in lines {
                    // By bytes: as Strings, "\r\n" is one Character.
                    let bytes = Array(line.utf8)
                    #expect(Array(message.utf8).suffix(bytes.count) == bytes[...], "\(message.debugDescription)")
                    #expect(bytes.firstIndex(of: 10) == bytes.count - 1, "one line: \(message.debugDescription)")
                }
            }
        }
        #expect(network.published.isEmpty && network.requests.isEmpty)
    }
}
