// relay mode's /msg and /who against the release binary, two workers: a private line reaches its
// one target and nobody else (not the sender, not the clients of either worker), by default or
// chosen name, on the sender's worker or the other one, in order with the sender's chat lines;
// nobody by that name (one that left included) is an error line to the sender alone, and a
// private line posted to a client that leaves before it arrives is counted as dropped; /who
// lists the clients of both workers to the asker alone.
//
// "Nobody else" is shown the way a user would see it: after the private line, the sender says
// something in public, and every other client's next line must be that one.
import TestSupport
import Testing

@Suite("relay /msg and /who")
struct RelayCommandsTests {
    @Test("/msg reaches its target alone, on either worker; unknown names are errors")
    func privateMessages() throws {
        let ringd = try RunningRingd(extraArguments: RelayModeTests.arguments)
        defer { ringd.stop() }
        let clients = try RelayClient.join(ringd, perWorker: 2)
        let sender = try #require(clients.first { $0.worker == 0 })
        let target = try #require(clients.last { $0.worker == 0 && $0 !== sender })
        let elsewhere = try #require(clients.first { $0.worker == 1 })

        try sender.connection.send("/msg \(target.name) meet me at  noon\n")
        #expect(try target.nextLine() == "\(sender.name) (private): meet me at  noon\n")
        try sender.connection.send("in public now\n")
        try expectNextLine("\(sender.name): in public now\n", atEveryoneBut: sender, in: clients)

        // By a chosen name, from the other side; the old name is nobody's any more.
        try target.connection.send("/nick tess\n")
        try expectNextLine("* \(target.name) is now tess\n", atEveryoneBut: nil, in: clients)
        let oldName = target.name
        target.name = "tess"
        try sender.connection.send("/msg \(oldName) hello?\n")
        #expect(try sender.nextLine() == "error: no such client \(oldName)\n")
        try sender.connection.send("/msg tess hello tess\r\n")
        #expect(try target.nextLine() == "\(sender.name) (private): hello tess\n")

        try sender.connection.send("/msg \(elsewhere.name) across\tthe  workers \n")
        #expect(try elsewhere.nextLine() == "\(sender.name) (private): across\tthe  workers \n")
        try sender.connection.send("/msg nobody hi\n")
        #expect(try sender.nextLine() == "error: no such client nobody\n")
        try sender.connection.send("/msg tess\n")
        #expect(try sender.nextLine() == "error: usage: /msg NAME text\n")

        // None of that reached anyone else: each one's next line is this one.
        try elsewhere.connection.send("after the private lines\n")
        try expectNextLine("\(elsewhere.name): after the private lines\n", atEveryoneBut: elsewhere, in: clients)
    }

    @Test(
        "/msg to the other worker keeps its place among the sender's chat lines; to one who leaves, each is delivered, dropped or refused"
    )
    func privateLinesAcrossWorkers() throws {
        let ringd = try RunningRingd(extraArguments: RelayModeTests.arguments)
        defer { ringd.stop() }
        let clients = try RelayClient.join(ringd, perWorker: 2)
        let sender = try #require(clients.first { $0.worker == 0 })
        let target = try #require(clients.first { $0.worker == 1 })
        let others = clients.filter { $0 !== sender && $0 !== target }

        // Chat and private lines interleaved in one write, at times two private lines in a row:
        // the target gets both kinds in the order sent, the others the chat alone.
        var batch = ""
        var toTarget: [String] = []
        var toOthers: [String] = []
        for index in 0..<120 {
            let chat = "chat \(index):\tcolons, tabs  and spaces "
            batch += chat + "\n"
            toTarget.append("\(sender.name): \(chat)\n")
            toOthers.append("\(sender.name): \(chat)\n")
            for copy in 0..<[2, 0, 1][index % 3] {
                let secret = "secret \(index).\(copy) for\t\(target.name) "
                batch += "/msg \(target.name) \(secret)\r\n"
                toTarget.append("\(sender.name) (private): \(secret)\n")
            }
        }
        try sender.connection.send(batch)
        #expect(try toTarget.indices.map { _ in try target.nextLine() } == toTarget)
        for other in others {
            #expect(try toOthers.indices.map { _ in try other.nextLine() } == toOthers, "at \(other.name)")
        }
        // The sender got nothing back, and nobody anything more: each one's next line is this.
        try target.connection.send("over\n")
        try expectNextLine("\(target.name): over\n", atEveryoneBut: target, in: clients)

        // A flood of private lines while the target leaves: those before its /quit reach it, in
        // order; those posted to its worker before and read there after are dropped and
        // counted; those after are refused. Every one is one of the three.
        let flood = 300
        let lastWords = (0..<flood).map { "/msg \(target.name) last words \($0)\n" }
        try sender.connection.send(lastWords[..<(flood / 2)].joined())
        try target.connection.send("/quit\n")
        try sender.connection.send(lastWords[(flood / 2)...].joined())
        let (bytes, end) = try target.connection.readToEnd(within: .seconds(10))
        #expect(end == .endOfStream)
        let delivered = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map { $0 + "\n" }
        #expect(delivered == (0..<delivered.count).map { "\(sender.name) (private): last words \($0)\n" })
        try expectNextLine("* \(target.name) left\n", atEveryoneBut: nil, in: others)
        try sender.connection.send("/msg \(target.name) are you there?\n/who\n")
        var senderLines: [String] = []
        while case let line = try sender.nextLine(), !line.hasPrefix("* online:") { senderLines.append(line) }
        let refusal = "error: no such client \(target.name)\n"
        #expect(senderLines.filter { $0 == "* \(target.name) left\n" }.count == 1)
        #expect(senderLines.last == refusal, "the /msg after the leave notice")
        let refused = senderLines.filter { $0 == refusal }.count - 1
        #expect(refused + 1 + 1 == senderLines.count, "only refusals and the leave notice: \(senderLines)")

        // A chat line through the same inbox: once the other worker has it, it has read every
        // private line before it.
        let stayers = clients.filter { $0 !== target }
        try sender.connection.send("end\n")
        try expectNextLine("\(sender.name): end\n", atEveryoneBut: sender, in: stayers)
        stayers.forEach { $0.connection.socket.close() }  // so that the drain need not wait for them
        let counters = try ringd.child.terminateAndReadCounters()
        let dropped = try #require(counters.total("relay_private_lines_dropped"), "\(counters.lines)")
        #expect(
            delivered.count + dropped + refused == flood, "delivered \(delivered.count), dropped \(dropped), refused \(refused)")
        #expect(counters.total("relay_posts_dropped") == 0)
    }

    @Test("/who lists every client of both workers, by its current name, to the asker alone")
    func whoIsOnline() throws {
        let ringd = try RunningRingd(extraArguments: RelayModeTests.arguments)
        defer { ringd.stop() }
        let clients = try RelayClient.join(ringd, perWorker: 2)
        let renamed = try #require(clients.first { $0.worker == 1 })
        try renamed.connection.send("/nick wanda\n")
        try expectNextLine("* \(renamed.name) is now wanda\n", atEveryoneBut: nil, in: clients)
        renamed.name = "wanda"

        for asker in [clients[0], renamed] {
            try asker.connection.send("/who\n")
            let line = try asker.nextLine()
            #expect(line.hasPrefix("* online: ") && line.hasSuffix("\n"), "\(line.debugDescription)")
            let names = line.dropFirst("* online: ".count).dropLast().split(separator: " ").map(String.init)
            #expect(names.sorted() == clients.map(\.name).sorted(), "asked by \(asker.name)")
        }

        let leaver = try #require(clients.last { $0.worker == 0 })
        try leaver.connection.send("/quit\n")
        let stayers = clients.filter { $0 !== leaver }
        try expectNextLine("* \(leaver.name) left\n", atEveryoneBut: nil, in: stayers)
        try renamed.connection.send("/who\n")
        let after = try renamed.nextLine()
        #expect(
            Set(after.dropFirst("* online: ".count).dropLast().split(separator: " ").map(String.init)) == Set(stayers.map(\.name))
        )

        try renamed.connection.send("after /who\n")
        try expectNextLine("wanda: after /who\n", atEveryoneBut: renamed, in: stayers)
    }
}
