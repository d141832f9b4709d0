// relay mode, the chat hub of the ECE 373 socket example: a line from one client goes to every
// other client as `NAME: text\n`, never back to its sender, and lines from one sender reach each
// receiver in the order sent, whichever worker holds either of them.
//
// A new client gets `* you are clientN\n` and the others `* clientN joined\n`. Worker i of n
// numbers its clients i+1, i+1+n, i+1+2n, ...: with two workers the odd numbers are worker 0's
// and the even ones worker 1's, which is how these tests make sure both workers hold clients
// that talk to each other. `/nick NAME` renames (everyone, the sender included, gets
// `* OLD is now NAME\n`), `/quit` tells the others `* NAME left\n` and closes the sender.
import Testing

@Suite("relay mode")
struct RelayModeTests {
    static let arguments = ["--mode", "relay", "--workers", "2"]

    @Test("welcome and join notices; a line reaches every other client on both workers, never its sender")
    func linesGoToEveryOtherClient() throws {
        let ringd = try RunningRingd(extraArguments: Self.arguments)
        defer { ringd.stop() }
        let clients = try RelayClient.join(ringd, perWorker: 2)
        let first = try #require(clients.first { $0.worker == 0 })
        let second = try #require(clients.first { $0.worker == 1 })
        let third = try #require(clients.last { $0.worker == 0 && $0 !== first })

        try first.connection.send("hello everyone\n")
        try expectNextLine("\(first.name): hello everyone\n", atEveryoneBut: first, in: clients)
        // The sender's own next line is the reply, so its line did not come back to it.
        try second.connection.send("hello \(first.name)\n")
        try expectNextLine("\(second.name): hello \(first.name)\n", atEveryoneBut: second, in: clients)
        try third.connection.send("a line with  spaces,\ttabs and : colons \n")
        try expectNextLine("\(third.name): a line with  spaces,\ttabs and : colons \n", atEveryoneBut: third, in: clients)
        // CRLF ends a line too, and the hub sends a bare "\n".
        try second.connection.send("crlf line\r\n")
        try expectNextLine("\(second.name): crlf line\n", atEveryoneBut: second, in: clients)
    }

    static let sendersPerWorker = 2
    static let linesPerSender = 200

    @Test("4 senders on both workers, 200 lines each at once: every receiver gets each sender's lines in order, exactly")
    func perSenderOrderIsKept() throws {
        let ringd = try RunningRingd(extraArguments: Self.arguments)
        defer { ringd.stop() }
        let clients = try RelayClient.join(ringd, perWorker: Self.sendersPerWorker)
        let senders = Array(clients.filter { $0.worker == 0 }.prefix(Self.sendersPerWorker))
            + Array(clients.filter { $0.worker == 1 }.prefix(Self.sendersPerWorker))

        // Interleaved, one line per send, so ringd reads the senders' lines concurrently.
        for index in 0..<Self.linesPerSender {
            for sender in senders {
                try sender.connection.queue("line \(index) from \(sender.name)\n")
            }
        }
        let expectedCount: (RelayClient) -> Int = { client in
            Self.linesPerSender * senders.filter { $0 !== client }.count
        }
        var received = [[String]](repeating: [], count: clients.count)
        let done = try LineConnection.pump(clients.map(\.connection), within: .seconds(30)) {
            for (index, client) in clients.enumerated() {
                while let line = client.connection.nextLine() {
                    received[index].append(String(decoding: line, as: UTF8.self))
                }
            }
            return clients.indices.allSatisfy { received[$0].count >= expectedCount(clients[$0]) }
                || clients.contains { $0.connection.hasEnded }
        }
        #expect(done, "lines received: \(received.map(\.count)), expected \(clients.map(expectedCount))")

        for (index, client) in clients.enumerated() {
            #expect(client.connection.end == nil, "\(client.name) was disconnected: \(client.connection.end!)")
            var nextIndex: [String: Int] = [:]
            var problems: [String] = []
            for line in received[index] {
                guard let (name, lineIndex) = Self.parseNumberedLine(line),
                    let sender = senders.first(where: { $0.name == name }), line.hasSuffix(" from \(name)\n")
                else {
                    problems.append("unexpected line \(line.debugDescription)")
                    continue
                }
                if sender === client { problems.append("its own line came back: \(line.debugDescription)") }
                let expected = nextIndex[name, default: 0]
                if lineIndex != expected { problems.append("from \(name): line \(lineIndex) where \(expected) was due") }
                nextIndex[name] = lineIndex + 1
            }
            for sender in senders where sender !== client {
                let count = nextIndex[sender.name, default: 0]
                if count != Self.linesPerSender { problems.append("\(count) of \(Self.linesPerSender) lines from \(sender.name)") }
            }
            #expect(
                problems.isEmpty,
                "at \(client.name) (worker \(client.worker)): \(problems.prefix(10).joined(separator: "\n"))")
        }
    }

    @Test("/nick renames for everyone, later lines carry the new name; /quit tells the others and closes the sender")
    func nickAndQuit() throws {
        let ringd = try RunningRingd(extraArguments: Self.arguments)
        defer { ringd.stop() }
        let clients = try RelayClient.join(ringd, perWorker: 2)
        let alice = try #require(clients.first { $0.worker == 0 })
        let bob = try #require(clients.first { $0.worker == 1 })
        let stayers = clients.filter { $0 !== alice && $0 !== bob }

        try alice.connection.send("/nick alice\n")
        try expectNextLine("* \(alice.name) is now alice\n", atEveryoneBut: nil, in: clients)
        alice.name = "alice"
        try alice.connection.send("hi from alice\n")
        try expectNextLine("alice: hi from alice\n", atEveryoneBut: alice, in: clients)

        try bob.connection.send("/nick bob\n")
        try expectNextLine("* \(bob.name) is now bob\n", atEveryoneBut: nil, in: clients)
        bob.name = "bob"
        try bob.connection.send("hi alice\n")
        try expectNextLine("bob: hi alice\n", atEveryoneBut: bob, in: clients)

        try alice.connection.send("/quit\n")
        try expectNextLine("* alice left\n", atEveryoneBut: alice, in: clients)
        let (aliceRest, aliceEnd) = try alice.connection.readToEnd(within: .seconds(10))
        #expect(aliceRest.isEmpty, "after /quit alice got \(quoted(aliceRest))")
        #expect(aliceEnd == .endOfStream)

        // Closing without /quit: the others are told too.
        bob.connection.socket.close()
        try expectNextLine("* bob left\n", atEveryoneBut: nil, in: stayers)

        // Those who stay still talk across workers.
        for speaker in stayers {
            try speaker.connection.send("still here\n")
            try expectNextLine("\(speaker.name): still here\n", atEveryoneBut: speaker, in: stayers)
        }
    }

    @Test("relay.notices=false and relay.welcome=false: no welcome, no join, rename or leave notices; lines still flow")
    func noticesAndWelcomeSwitchedOff() throws {
        let ringd = try RunningRingd(
            extraArguments: Self.arguments + ["--set", "relay.notices=false", "--set", "relay.welcome=false"])
        defer { ringd.stop() }

        // Without a welcome, a client learns nothing on connect. An unknown command gets an error
        // line to the sender alone, which shows that ringd holds the client; its first chat line
        // then shows the others its name, and so its worker.
        var clients: [RelayClient] = []
        for attempt in 0..<40 {
            let connection = try LineConnection(connectingTo: ringd.endpoint)
            try connection.send("/hello\n")
            let reply = try connection.readLineText(within: .seconds(10))
            #expect(reply == "error: unknown command; commands are /nick NAME and /quit\n", "newcomer \(attempt) got \(reply.debugDescription)")
            try connection.send("newcomer \(attempt)\n")
            var names: Set<String> = []
            for client in clients {
                let line = try client.connection.readLineText(within: .seconds(10))
                guard line.hasSuffix(": newcomer \(attempt)\n") else {
                    Issue.record("\(client.name) got \(line.debugDescription) where newcomer \(attempt)'s line was due")
                    continue
                }
                names.insert(String(line.dropLast(": newcomer \(attempt)\n".count)))
            }
            let number: Int
            if clients.isEmpty {
                // Nobody to tell us; the first client's name shows when it first speaks below.
                number = 0
            } else {
                try #require(names.count == 1, "the others saw newcomer \(attempt) as \(names)")
                number = try #require(RelayClient.number(inName: names.first!), "\(names)")
            }
            clients.append(RelayClient(connection: connection, number: number))
            if clients.count == 1 { continue }
            if clients.count == 2 {
                // The first client speaks once there is someone to hear it.
                try clients[0].connection.send("first\n")
                let line = try clients[1].connection.readLineText(within: .seconds(10))
                try #require(line.hasSuffix(": first\n"), "got \(line.debugDescription)")
                clients[0].number = try #require(RelayClient.number(inName: String(line.dropLast(": first\n".count))))
                clients[0].name = "client\(clients[0].number)"
            }
            if clients.count >= 4 && Set(clients.map(\.worker)) == [0, 1] { break }
        }
        try #require(Set(clients.map(\.worker)) == [0, 1], "40 clients, all on one worker: \(clients.map(\.name))")
        #expect(Set(clients.map(\.number)).count == clients.count, "names given twice: \(clients.map(\.name))")

        let renamer = try #require(clients.first { $0.worker == 0 })
        let witness = try #require(clients.first { $0.worker == 1 })
        let leaver = try #require(clients.last { $0 !== renamer && $0 !== witness })

        // /nick answers the renamer alone; the others' next line is the witness's.
        try renamer.connection.send("/nick pat\n")
        #expect(try renamer.connection.readLineText(within: .seconds(10)) == "* \(renamer.name) is now pat\n")
        renamer.name = "pat"
        try witness.connection.send("after the rename\n")
        try expectNextLine("\(witness.name): after the rename\n", atEveryoneBut: witness, in: clients)
        try renamer.connection.send("renamed\n")
        try expectNextLine("pat: renamed\n", atEveryoneBut: renamer, in: clients)

        // /quit closes the sender and tells nobody; neither does a plain close.
        try leaver.connection.send("/quit\n")
        let (rest, end) = try leaver.connection.readToEnd(within: .seconds(10))
        #expect(rest.isEmpty, "after /quit \(leaver.name) got \(quoted(rest))")
        #expect(end == .endOfStream)
        let others = clients.filter { $0 !== leaver }
        try witness.connection.send("after the quit\n")
        try expectNextLine("\(witness.name): after the quit\n", atEveryoneBut: witness, in: others)
        renamer.connection.socket.close()
        let remaining = others.filter { $0 !== renamer }
        try witness.connection.send("after the close\n")
        try expectNextLine("\(witness.name): after the close\n", atEveryoneBut: witness, in: remaining)
    }

    @Test("a line longer than relay.max_line gets the error line and a close, and the others are told it left")
    func overlongChatLine() throws {
        let ringd = try RunningRingd(extraArguments: Self.arguments + ["--set", "relay.max_line=64"])
        defer { ringd.stop() }
        let clients = try RelayClient.join(ringd, perWorker: 1)
        let talker = clients[0]

        try talker.connection.send(String(repeating: "w", count: 64) + "\n")
        try expectNextLine("\(talker.name): \(String(repeating: "w", count: 64))\n", atEveryoneBut: talker, in: clients)
        try talker.connection.send(String(repeating: "v", count: 65) + "\n")
        let (bytes, end) = try talker.connection.readToEnd(within: .seconds(10))
        #expect(bytes == Array("error: line longer than 64 bytes\n".utf8), "got \(quoted(bytes))")
        #expect(end == .endOfStream)
        try expectNextLine("* \(talker.name) left\n", atEveryoneBut: talker, in: clients)
    }

    /// `clientN: line K from clientN\n` -> (clientN, K); also accepts any sender name.
    static func parseNumberedLine(_ line: String) -> (name: String, index: Int)? {
        guard let colon = line.firstIndex(of: ":") else { return nil }
        let name = String(line[..<colon])
        let rest = line[line.index(after: colon)...]
        guard rest.hasPrefix(" line ") else { return nil }
        let number = rest.dropFirst(" line ".count).prefix { $0 != " " }
        guard let index = decimal(number) else { return nil }
        return (name, index)
    }
}

/// One relay client and what the tests know about it.
final class RelayClient {
    let connection: LineConnection
    /// The N of `clientN`; 0 while unknown.
    var number: Int
    /// The name the others see: `clientN`, or the one it took with /nick.
    var name: String

    init(connection: LineConnection, number: Int) {
        self.connection = connection
        self.number = number
        name = "client\(number)"
    }

    /// The worker that holds it, with two workers: odd numbers are worker 0's, even worker 1's.
    var worker: Int { (number - 1) % 2 }

    /// N of `clientN`, or nil.
    static func number(inName name: String) -> Int? {
        guard name.hasPrefix("client") else { return nil }
        return decimal(name.dropFirst("client".count))
    }

    /// Connects clients one at a time until each of the two workers holds at least `perWorker`
    /// (at most 40 connections). Each newcomer's first line must be `* you are clientN\n`, and
    /// every earlier client's next line `* clientN joined\n`: waiting for those before the next
    /// connect means nobody misses a line sent later. Numbers must count up by 2 on each worker.
    static func join(_ ringd: RunningRingd, perWorker: Int) throws -> [RelayClient] {
        var clients: [RelayClient] = []
        for _ in 0..<40 {
            let connection = try LineConnection(connectingTo: ringd.endpoint)
            let welcome = try connection.readLineText(within: .seconds(10))
            guard welcome.hasPrefix("* you are "), welcome.hasSuffix("\n"),
                let number = number(inName: String(welcome.dropFirst("* you are ".count).dropLast()))
            else {
                throw HarnessFailure("a new relay client's first line is \(welcome.debugDescription)\n\(ringd.child.standardError)")
            }
            let newcomer = RelayClient(connection: connection, number: number)
            let previousOnWorker = clients.last { $0.worker == newcomer.worker }?.number
            let expectedNumber = previousOnWorker.map { $0 + 2 } ?? newcomer.worker + 1
            #expect(number == expectedNumber, "after \(clients.map(\.name)) the newcomer is client\(number)")
            try expectNextLine("* \(newcomer.name) joined\n", atEveryoneBut: nil, in: clients)
            clients.append(newcomer)
            if (0..<2).allSatisfy({ worker in clients.filter { $0.worker == worker }.count >= perWorker }) {
                return clients
            }
        }
        throw HarnessFailure("40 relay clients and still not \(perWorker) on each worker: \(clients.map(\.name))")
    }
}

/// Every client in `clients` but `sender` reads its next line, which must be `line`.
func expectNextLine(
    _ line: String, atEveryoneBut sender: RelayClient?, in clients: [RelayClient],
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    for client in clients where client !== sender {
        let received = try client.connection.readLineText(within: .seconds(10))
        #expect(received == line, "at \(client.name)", sourceLocation: sourceLocation)
    }
}
