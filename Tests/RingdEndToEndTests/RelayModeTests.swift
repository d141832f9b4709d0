// relay mode, the chat hub of the ECE 373 socket example: a line from one client goes to every
// other client as `NAME: text\n`, never back to its sender, and lines from one sender reach each
// receiver in the order sent, whichever worker holds either of them.
//
// A new client gets `* you are clientN\n` and the others `* clientN joined\n`. Worker i of n
// numbers its clients i+1, i+1+n, i+1+2n, ...: with two workers the odd numbers are worker 0's
// and the even ones worker 1's, which is how these tests make sure both workers hold clients
// that talk to each other. `/nick NAME` renames (everyone, the sender included, gets
// `* OLD is now NAME\n`), `/quit` tells the others `* NAME left\n` and closes the sender.
import TestSupport
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

    @Test("a name chosen on one worker is taken for a client on the other, until its holder renames or leaves")
    func chosenNamesAreUniqueAcrossWorkers() throws {
        let ringd = try RunningRingd(extraArguments: Self.arguments)
        defer { ringd.stop() }
        let clients = try RelayClient.join(ringd, perWorker: 1)
        let first = try #require(clients.first { $0.worker == 0 })
        let second = try #require(clients.first { $0.worker == 1 })

        try first.connection.send("/nick sam\n")
        try expectNextLine("* \(first.name) is now sam\n", atEveryoneBut: nil, in: clients)
        first.name = "sam"
        try second.connection.send("/nick sam\n")
        #expect(try second.nextLine() == "error: the name sam is taken\n")

        // Once sam is someone else's, the name is free on every worker...
        try first.connection.send("/nick samuel\n")
        try expectNextLine("* sam is now samuel\n", atEveryoneBut: nil, in: clients)
        first.name = "samuel"
        try second.connection.send("/nick sam\n")
        try expectNextLine("* \(second.name) is now sam\n", atEveryoneBut: nil, in: clients)
        second.name = "sam"

        // ...and so is a name whose holder left.
        try first.connection.send("/quit\n")
        try expectNextLine("* samuel left\n", atEveryoneBut: first, in: clients)
        let stayers = clients.filter { $0 !== first }
        try second.connection.send("/nick samuel\n")
        try expectNextLine("* sam is now samuel\n", atEveryoneBut: nil, in: stayers)
    }

    @Test("relay.notices=false and relay.welcome=false: no welcome, no join, rename or leave notices; lines still flow")
    func noticesAndWelcomeSwitchedOff() throws {
        let ringd = try RunningRingd(
            extraArguments: Self.arguments + ["--set", "relay.notices=false", "--set", "relay.welcome=false"])
        defer { ringd.stop() }

        // Without a welcome, a client learns nothing on connect. An unknown command gets an error
        // line to the sender alone, which shows that ringd holds the client; a chat line from it
        // then shows the others its name, and so its worker. All twelve are held before anyone
        // speaks, so no line is in flight to a worker while a client connects to it.
        var clients: [RelayClient] = []
        for _ in 0..<12 {
            clients.append(try RelayClient.connectSilently(ringd, knownLines: []))
        }
        var chatLines: [String] = []
        for (index, newcomer) in clients.enumerated() {
            try RelayClient.learnName(of: newcomer, saying: "I am \(index)", among: clients)
            chatLines.append("\(newcomer.name): I am \(index)\n")
        }
        // Twelve clients on one worker happens once in 2,048 runs; then more join, and lines sent
        // before one of them connected may still reach it from the other worker.
        while Set(clients.map(\.worker)) != [0, 1] && clients.count < 40 {
            let newcomer = try RelayClient.connectSilently(ringd, knownLines: chatLines)
            clients.append(newcomer)
            try RelayClient.learnName(of: newcomer, saying: "I am \(clients.count - 1)", among: clients)
            chatLines.append("\(newcomer.name): I am \(clients.count - 1)\n")
        }
        try #require(Set(clients.map(\.worker)) == [0, 1], "\(clients.count) clients, all on one worker: \(clients.map(\.name))")
        try RelayClient.settle(clients)
        try RelayClient.expectNumbering(clients)

        let renamer = try #require(clients.first { $0.worker == 0 })
        let witness = try #require(clients.first { $0.worker == 1 })
        let leaver = try #require(clients.last { $0 !== renamer && $0 !== witness })

        // /nick answers the renamer alone; the others' next line is the witness's.
        try renamer.connection.send("/nick pat\n")
        #expect(try renamer.nextLine(within: .seconds(10)) == "* \(renamer.name) is now pat\n")
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

        // ringd has ended the talker's connection, so the others are told it left, as after
        // /quit, even though the talker has not closed its socket yet.
        let left = "* \(talker.name) left\n"
        let others = clients.filter { $0 !== talker }
        if let first = try? others[0].nextLine(within: .seconds(10)) {
            #expect(first == left, "at \(others[0].name)")
            try expectNextLine(left, atEveryoneBut: nil, in: Array(others.dropFirst()))
        } else {
            Issue.record("no `\(left.dropLast())` within 10 s of ringd closing \(talker.name) for its long line, while its socket is open")
            talker.connection.socket.close()
            try expectNextLine(left, atEveryoneBut: nil, in: others)
        }
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
    /// Lines sent before this client connected that may still reach it, each at most once.
    /// A worker fans a line out to the other worker asynchronously, so a client that connects to
    /// that worker meanwhile can get it; `settle` waits until no such line can still come.
    var lateLinesAllowed: [String: Int] = [:]

    init(connection: LineConnection, number: Int) {
        self.connection = connection
        self.number = number
        name = "client\(number)"
    }

    /// The worker that holds it, with two workers: odd numbers are worker 0's, even worker 1's.
    var worker: Int { (number - 1) % 2 }

    /// The next line that is not one of `lateLinesAllowed`.
    func nextLine(within timeout: Duration = .seconds(10)) throws -> String {
        let deadline = Deadline(after: timeout)
        while true {
            let line = try connection.readLineText(within: .milliseconds(Int64(deadline.remainingMilliseconds)))
            if let count = lateLinesAllowed[line], count > 0 {
                lateLinesAllowed[line] = count - 1
                continue
            }
            return line
        }
    }

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
            // A join on the other worker shortly before may still be on its way to this one.
            for earlier in clients where earlier.worker != newcomer.worker {
                newcomer.lateLinesAllowed["* \(earlier.name) joined\n", default: 0] += 1
            }
            try expectNextLine("* \(newcomer.name) joined\n", atEveryoneBut: nil, in: clients)
            clients.append(newcomer)
            if (0..<2).allSatisfy({ worker in clients.filter { $0.worker == worker }.count >= perWorker }) {
                try expectNumbering(clients)
                try settle(clients)
                return clients
            }
        }
        throw HarnessFailure("40 relay clients and still not \(perWorker) on each worker: \(clients.map(\.name))")
    }

    /// Worker i of 2 names its clients i+1, i+3, i+5, ... in the order it accepts them, and
    /// `clients` are in the order they connected, each after the last was seen to be held.
    static func expectNumbering(_ clients: [RelayClient]) throws {
        for worker in 0..<2 {
            let numbers = clients.filter { $0.worker == worker }.map(\.number)
            let expected = numbers.indices.map { worker + 1 + 2 * $0 }
            #expect(numbers == expected, "worker \(worker) named its clients \(numbers.map { "client\($0)" })")
        }
    }

    /// A line from a client on each worker, read by everyone else: after it, no line sent
    /// before it from that worker can still arrive, so late lines are no longer allowed.
    static func settle(_ clients: [RelayClient]) throws {
        for worker in 0..<2 {
            guard let speaker = clients.first(where: { $0.worker == worker }) else { continue }
            try speaker.connection.send("settle\n")
            try expectNextLine("\(speaker.name): settle\n", atEveryoneBut: speaker, in: clients)
        }
        for client in clients { client.lateLinesAllowed = [:] }
    }

    /// Connects with welcome and notices off: the client sends an unknown command and its first
    /// line must be the error, sent to it alone. `knownLines` were sent before it connected.
    static func connectSilently(_ ringd: RunningRingd, knownLines: [String]) throws -> RelayClient {
        let client = RelayClient(connection: try LineConnection(connectingTo: ringd.endpoint), number: 0)
        for line in knownLines { client.lateLinesAllowed[line, default: 0] += 1 }
        try client.connection.send("/hello\n")
        let reply = try client.nextLine(within: .seconds(10))
        #expect(reply == "error: unknown command; commands are /msg NAME text, /who, /nick NAME and /quit\n", "a silent newcomer got \(reply.debugDescription)")
        return client
    }

    /// `newcomer` says `text`; every other client in `clients` must get it as its next line,
    /// all under the same `clientN` name, which becomes the newcomer's.
    static func learnName(of newcomer: RelayClient, saying text: String, among clients: [RelayClient]) throws {
        try newcomer.connection.send(text + "\n")
        var names: Set<String> = []
        for client in clients where client !== newcomer {
            let line = try client.nextLine(within: .seconds(10))
            guard line.hasSuffix(": \(text)\n") else {
                Issue.record("\(client.name) got \(line.debugDescription) where \(text.debugDescription) was due")
                continue
            }
            names.insert(String(line.dropLast(": \(text)\n".count)))
        }
        try #require(names.count == 1, "the others saw the sender of \(text.debugDescription) as \(names)")
        newcomer.number = try #require(number(inName: names.first!), "\(names)")
        newcomer.name = "client\(newcomer.number)"
    }
}

/// Every client in `clients` but `sender` reads its next line, which must be `line`.
func expectNextLine(
    _ line: String, atEveryoneBut sender: RelayClient?, in clients: [RelayClient],
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    for client in clients where client !== sender {
        let received = try client.nextLine(within: .seconds(10))
        #expect(received == line, "at \(client.name)", sourceLocation: sourceLocation)
    }
}
