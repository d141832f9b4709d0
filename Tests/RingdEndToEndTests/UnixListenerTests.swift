// Unix-domain listeners: `--listen unix:/PATH` beside a TCP address, in every mode. All workers
// accept from the one socket; its clients are `unix` in `{peer}`, the access log and the log's
// `peer=`; the file gets server.unix_mode; a stale file (left by a killed server) is replaced,
// a live one (another process accepts there) or a file that is not a socket stops ringd with an
// error naming the path, and the file goes when ringd exits.
import Foundation
import Glibc
import TestSupport
import Testing

@Suite("Unix-domain listeners")
struct UnixListenerTests {
    /// ringd on a Unix socket in `directory` and on 127.0.0.1:0, with 2 workers; the Unix
    /// socket is `endpoints[0]`, TCP `endpoints[1]`.
    static func start(in directory: UnixSocketDirectory, workers: Int = 2, _ arguments: [String]) throws -> RunningRingd {
        try RunningRingd(
            listen: ["unix:" + directory.file("ringd.sock"), "127.0.0.1:0"],
            extraArguments: ["--workers", "\(workers)"] + arguments)
    }

    @Test("greet: a Unix-socket client is greeted as `unix`, then a clean end of stream; TCP beside it as HOST PORT")
    func greet() throws {
        let directory = try UnixSocketDirectory()
        let ringd = try Self.start(in: directory, ["--mode", "greet"])
        defer { ringd.stop() }
        #expect(ringd.endpoints[0].description == "unix:" + directory.file("ringd.sock"), "\(ringd.listeningLines)")
        #expect(ringd.listeningLines.first == "ringd: greet listening on unix:\(directory.file("ringd.sock")) (2 workers)")

        for _ in 0..<20 {
            let (bytes, end) = try LineConnection(connectingTo: ringd.endpoints[0]).readToEnd(within: .seconds(10))
            #expect(bytes == Array("Hello from ringd, unix\n".utf8), "got \(quoted(bytes))")
            #expect(end == .endOfStream)
        }
        let tcp = try LineConnection(connectingTo: ringd.endpoints[1])
        let port = try tcp.socket.localEndpoint.port
        #expect(try tcp.readToEnd(within: .seconds(10)).bytes == Array("Hello from ringd, 127.0.0.1 \(port)\n".utf8))
    }

    @Test("counter: Unix and TCP clients share one count without gaps")
    func counter() throws {
        let directory = try UnixSocketDirectory()
        let ringd = try Self.start(in: directory, ["--mode", "counter"])
        defer { ringd.stop() }
        for index in 0..<10 {
            let endpoint = ringd.endpoints[index % 2]
            let (bytes, end) = try LineConnection(connectingTo: endpoint).readToEnd(within: .seconds(10))
            #expect(bytes == Array("\(index) connections before you\n".utf8), "client \(index) on \(endpoint): \(quoted(bytes))")
            #expect(end == .endOfStream)
        }
    }

    @Test("raw echo: 8 Unix-socket clients each get 256 KiB back exactly, written in random pieces")
    func rawEcho() throws {
        let directory = try UnixSocketDirectory()
        let ringd = try Self.start(in: directory, [])
        defer { ringd.stop() }
        var random = SeededRandom(seed: testSeed(default: 1301))
        let conversations = try (0..<8).map { _ in
            EchoConversation(
                socket: try TestSocket(connectingTo: ringd.endpoints[0]), payload: random.bytes(count: 256 * 1024),
                plan: .random(SeededRandom(seed: random.next()), range: 1...(64 * 1024)), halfClosesWhenSent: true)
        }
        EchoExchange.run(conversations)
        let problems = EchoExchange.problems(of: conversations)
        #expect(problems.isEmpty, "\(problems)\n\(ringd.child.standardError)")
    }

    @Test("line echo: numbered replies, and the access log and the trace log name the client `unix`")
    func lineEcho() throws {
        let directory = try UnixSocketDirectory()
        let ringd = try Self.start(
            in: directory, ["--set", "echo.line_numbers=true", "--set", "echo.access_log=true", "--log-level", "trace"])
        defer { ringd.stop() }
        let connection = try LineConnection(connectingTo: ringd.endpoints[0])
        try connection.send("Here we go...\nagain\n")
        #expect(try connection.readLineText() == "1: Here we go...\n")
        #expect(try connection.readLineText() == "2: again\n")
        connection.socket.close()

        try ringd.waitForLog(containing: "peer=unix: closed")
        #expect(ringd.child.standardError.contains("peer=unix: connected"), "\(ringd.child.standardError)")
        let accessLines = ringd.child.standardOutput.split(separator: "\n").filter { $0.hasPrefix("[") }
        #expect(accessLines == ["[unix] Here we go...", "[unix] again"], "\(ringd.child.standardOutput)")
    }

    @Test("broadcast: Unix and TCP subscribers get the same heartbeats, counted together in {clients}")
    func broadcast() throws {
        let directory = try UnixSocketDirectory()
        let ringd = try Self.start(
            in: directory, workers: 1,
            [
                "--mode", "broadcast", "--set", "broadcast.interval=50ms", "--set",
                "broadcast.message=beat {seq} clients={clients}\n",
            ])
        defer { ringd.stop() }
        let unix = try LineConnection(connectingTo: ringd.endpoints[0])
        let tcp = try LineConnection(connectingTo: ringd.endpoints[1])
        // Once both are counted, every later heartbeat says so, to both.
        var seen = ""
        for _ in 0..<100 {
            seen = try unix.readLineText()
            if seen.hasSuffix(" clients=2\n") { break }
        }
        #expect(
            seen.hasPrefix("beat ") && seen.hasSuffix(" clients=2\n"), "the Unix subscriber's last line: \(seen.debugDescription)"
        )
        let next = try unix.readLineText()
        var tcpLine = try tcp.readLineText()
        while tcpLine != next { tcpLine = try tcp.readLineText() }
        #expect(tcpLine == next)
    }

    @Test("relay: a line from a Unix-socket client reaches the TCP one and back, with names")
    func relay() throws {
        let directory = try UnixSocketDirectory()
        let ringd = try Self.start(in: directory, ["--mode", "relay"])
        defer { ringd.stop() }
        let unix = try LineConnection(connectingTo: ringd.endpoints[0])
        let unixName = try Self.welcomedName(unix)
        let tcp = try LineConnection(connectingTo: ringd.endpoints[1])
        let tcpName = try Self.welcomedName(tcp)
        #expect(try unix.readLineText() == "* \(tcpName) joined\n")

        try unix.send("hello over a Unix socket\n")
        // The clients may be on different workers, and the Unix client's join notice travels to
        // the other worker after it joined: a TCP client that connected meanwhile may get it.
        var line = try tcp.readLineText()
        if line == "* \(unixName) joined\n" { line = try tcp.readLineText() }
        #expect(line == "\(unixName): hello over a Unix socket\n")
        try tcp.send("hello back\n")
        #expect(try unix.readLineText() == "\(tcpName): hello back\n")
        try unix.send("/quit\n")
        #expect(try tcp.readLineText() == "* \(unixName) left\n")
    }

    static func welcomedName(_ connection: LineConnection) throws -> String {
        let welcome = try connection.readLineText()
        guard welcome.hasPrefix("* you are "), welcome.hasSuffix("\n") else {
            throw HarnessFailure("expected `* you are NAME`, got \(welcome.debugDescription)")
        }
        return String(welcome.dropFirst("* you are ".count).dropLast())
    }

    @Test("the file gets server.unix_mode (0660 by default) and is removed when ringd exits on SIGTERM")
    func permissionsAndRemovalAtExit() throws {
        let directory = try UnixSocketDirectory()
        let ringd = try Self.start(in: directory, [])
        #expect(try directory.permissions(of: "ringd.sock") == 0o660)
        ringd.stop()
        #expect(ringd.child.exitStatus == .success, "\(ringd.child.outputSummary)")
        #expect(!directory.exists("ringd.sock"), "the socket file is still there after ringd exited")

        let owner = try Self.start(in: directory, ["--set", "server.unix_mode=0600"])
        defer { owner.stop() }
        #expect(try directory.permissions(of: "ringd.sock") == 0o600)
    }

    @Test("a stale socket file (its server died) is replaced, and the new socket is served")
    func staleFileIsReplaced() throws {
        let directory = try UnixSocketDirectory()
        try TestUnixListener.leaveStaleFile(at: directory.file("ringd.sock"))
        try #require(directory.exists("ringd.sock"))

        let ringd = try Self.start(in: directory, ["--set", "echo.lines=true"])
        defer { ringd.stop() }
        let connection = try LineConnection(connectingTo: ringd.endpoints[0])
        try connection.send("still here\n")
        #expect(try connection.readLineText() == "still here\n")
    }

    @Test("a live socket (another process accepts there) stops ringd with an error naming the path; the file stays")
    func liveSocketIsRefused() throws {
        let directory = try UnixSocketDirectory()
        let path = directory.file("ringd.sock")
        let other = try TestUnixListener(path: path, listening: true)
        defer { other.close() }

        let run = try CompletedRun(executable: try RingdPaths.ringdBinary(), arguments: ["--listen", "unix:" + path])
        #expect(run.status == .exited(1), "\(run.outputSummary)")
        #expect(
            run.standardError
                == "ringd: error: cannot listen: bind failed: EADDRINUSE (Address already in use) [unix:\(path): "
                + "another process accepts connections there]. Fix: stop the other server or choose another path with --listen.\n",
            "\(run.outputSummary)")
        #expect(run.standardOutput.isEmpty)
        // The other server's file is untouched: it still accepts.
        let client = try TestSocket(connectingTo: Endpoint(unixPath: path))
        client.close()
    }

    @Test("a file that is not a socket is never removed: ringd stops and names it")
    func regularFileIsKept() throws {
        let directory = try UnixSocketDirectory()
        let path = directory.file("ringd.sock")
        try "precious\n".write(toFile: path, atomically: false, encoding: .utf8)

        let run = try CompletedRun(executable: try RingdPaths.ringdBinary(), arguments: ["--listen", "unix:" + path])
        #expect(run.status == .exited(1), "\(run.outputSummary)")
        #expect(
            run.standardError.contains("[unix:\(path): the file exists and is not a socket; ringd replaces only a stale socket]"),
            "\(run.outputSummary)")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "precious\n")
    }

    @Test("a relative path or one too long for a socket is a named error in --listen")
    func badPathsAreNamed() throws {
        let ringd = try RingdPaths.ringdBinary()
        let relative = try CompletedRun(executable: ringd, arguments: ["--check", "--listen", "unix:ringd.sock"])
        #expect(relative.status == .exited(2))
        #expect(
            relative.standardError
                == "ringd: error: --listen unix:ringd.sock: server.listen[0] = \"unix:ringd.sock\" is not an address: "
                + "the Unix socket path 'ringd.sock' is not absolute: write unix:/PATH, such as unix:/run/ringd/echo.sock\n",
            "\(relative.outputSummary)")
        let long = "unix:/" + String(repeating: "x", count: 120)
        let tooLong = try CompletedRun(executable: ringd, arguments: ["--check", "--listen", "127.0.0.1:0", "--listen", long])
        #expect(tooLong.status == .exited(2))
        #expect(
            tooLong.standardError.hasPrefix("ringd: error: --listen \(long): server.listen[1] = ")
                && tooLong.standardError.hasSuffix(
                    "the Unix socket path is 121 bytes long; a Unix socket's path holds at most 107\n"),
            "\(tooLong.outputSummary)")
    }
}
