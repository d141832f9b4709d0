// relay mode's /msg and /who against the release binary, two workers: a private line reaches its
// one target and nobody else (not the sender, not the clients of either worker), by default or
// chosen name; a target on the other worker, or nobody by that name, is an error line to the
// sender alone; /who lists the clients of both workers to the asker alone.
//
// "Nobody else" is shown the way a user would see it: after the private line, the sender says
// something in public, and every other client's next line must be that one.
import TestSupport
import Testing

@Suite("relay /msg and /who")
struct RelayCommandsTests {
    @Test("/msg reaches its target on the same worker alone; the other worker's clients and unknown names are errors")
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

        try sender.connection.send("/msg \(elsewhere.name) across\n")
        #expect(
            try sender.nextLine()
                == "error: \(elsewhere.name) is on another worker of this server; /msg reaches clients of your own worker only, for now\n"
        )
        try sender.connection.send("/msg nobody hi\n")
        #expect(try sender.nextLine() == "error: no such client nobody\n")
        try sender.connection.send("/msg tess\n")
        #expect(try sender.nextLine() == "error: usage: /msg NAME text\n")

        // None of that reached anyone else: each one's next line is this one.
        try elsewhere.connection.send("after the private lines\n")
        try expectNextLine("\(elsewhere.name): after the private lines\n", atEveryoneBut: elsewhere, in: clients)
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
