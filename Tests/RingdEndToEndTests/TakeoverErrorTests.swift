// A hand-over that cannot happen ends the new process with exit status 1 and one line naming
// the cause, and leaves the old ringd serving and accepting as before: nobody at PATH, a stale
// control socket, a second takeover while one runs, another user, a new process that fails
// halfway (an address it cannot bind) or dies halfway (its connection closes before `ready`).
import Foundation
import Glibc
import TestSupport
import Testing

extension HardeningTests {
    @Suite("Hand-over errors")
    struct TakeoverErrorTests {
        typealias Takeover = HardeningTests.TakeoverTests

        /// Runs `ringd --takeover` to its end, through `launcher` if given.
        static func runTakeover(_ arguments: [String], launcher: [String] = []) throws -> CompletedRun {
            let ringd = try RingdPaths.ringdBinary()
            if launcher.isEmpty { return try CompletedRun(executable: ringd, arguments: arguments) }
            return try CompletedRun(executable: launcher[0], arguments: Array(launcher.dropFirst()) + [ringd] + arguments)
        }

        /// The old ringd still echoes on both addresses, over new connections.
        static func expectStillServing(_ old: RunningRingd, _ when: String) throws {
            #expect(old.child.isRunning, "the old ringd exited \(when)\n\(old.child.outputSummary)")
            try Takeover.echoOnce(old.endpoints[0], "still served over TCP \(when)")
            try Takeover.echoOnce(old.endpoints[1], "still served over Unix \(when)")
        }

        @Test("no control socket at PATH: exit 1, naming ENOENT and server.control_socket")
        func nobodyAtPath() throws {
            let directory = try UnixSocketDirectory()
            let path = directory.file("control.sock")
            let run = try Self.runTakeover(["--takeover", path, "--listen", "127.0.0.1:0"])
            #expect(run.status == .exited(1), "\(run.outputSummary)")
            #expect(
                run.standardError
                    == "ringd: error: cannot take over from \(path): connect failed: ENOENT (No such file or directory) [\(path)]. "
                    + "There is no control socket there: is ringd running with server.control_socket = \"\(path)\"?\n",
                "\(run.outputSummary)")
            #expect(run.standardOutput.isEmpty)
        }

        @Test("a stale control socket (its ringd died): exit 1, naming ECONNREFUSED")
        func staleControlSocket() throws {
            let directory = try UnixSocketDirectory()
            let path = directory.file("control.sock")
            try TestUnixListener.leaveStaleFile(at: path)
            let run = try Self.runTakeover(["--takeover", path, "--listen", "127.0.0.1:0"])
            #expect(run.status == .exited(1), "\(run.outputSummary)")
            #expect(
                run.standardError.hasPrefix("ringd: error: cannot take over from \(path): connect failed: ECONNREFUSED")
                    && run.standardError.hasSuffix("Nobody accepts there: the ringd that made it is gone. Start ringd without --takeover.\n"),
                "\(run.outputSummary)")
        }

        @Test("a second takeover while one runs is refused by name; the first dying halfway leaves the old ringd serving")
        func secondTakeoverAndDeathHalfway() throws {
            let directory = try UnixSocketDirectory()
            let old = try Takeover.startOld(in: directory)
            defer { old.stop() }

            // The first takeover gets the sockets and never says `ready`.
            let first = try TakeoverPeer(controlSocket: directory.file("control.sock"))
            #expect(try first.receiveSockets() == 3, "2 TCP sockets (one per worker) and the Unix one")
            try Self.expectStillServing(old, "while a takeover is under way")

            let second = try Self.runTakeover(Takeover.takeoverArguments(old, in: directory, workers: 1))
            #expect(second.status == .exited(1), "\(second.outputSummary)")
            #expect(
                second.standardError
                    == "ringd: error: cannot take over from \(directory.file("control.sock")): it refused: "
                    + "a takeover by pid \(getpid()) is already in progress\n",
                "\(second.outputSummary)")

            // The first one dies: its connection and its copies of the sockets close.
            first.close()
            try old.waitForLog(containing: "abandoned: the new process closed the connection before `ready`; still serving")
            try Self.expectStillServing(old, "after the takeover died halfway")

            // And a whole takeover still works afterwards.
            let new = try Takeover.takeOver(old, in: directory, workers: 1)
            defer { new.stop() }
            #expect(try old.child.requireExit(within: .seconds(15)) == .success, "\(old.child.outputSummary)")
            try Takeover.echoOnce(new.endpoints[1], "served by the new ringd")
        }

        @Test("a new ringd that fails halfway (an address it cannot bind) exits 1 naming it; the old one keeps serving")
        func failureHalfway() throws {
            let directory = try UnixSocketDirectory()
            let old = try Takeover.startOld(in: directory)
            defer { old.stop() }
            // Another process listens on an address only the new configuration has.
            let blocker = try RunningRingd(listen: ["127.0.0.1:0"], extraArguments: ["--workers", "1"])
            defer { blocker.stop() }

            let run = try Self.runTakeover(
                Takeover.takeoverArguments(old, in: directory, workers: 2) + ["--listen", blocker.endpoint.description])
            #expect(run.status == .exited(1), "\(run.outputSummary)")
            #expect(
                run.standardError.contains(
                    "cannot listen: bind failed: EADDRINUSE (Address already in use) [\(blocker.endpoint): another process listens there]"),
                "\(run.outputSummary)")
            try old.waitForLog(containing: "abandoned")
            try Self.expectStillServing(old, "after the new ringd failed")
            #expect(directory.exists("echo.sock") && directory.exists("control.sock"), "the failed ringd removed the old one's files")
        }

        static let canSwitchUser = geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")

        @Test(
            "another user: refused by the file's permissions (EACCES), or, with them loosened, by the old ringd naming the uid",
            .enabled(if: canSwitchUser, "needs root and setpriv(1) to run ringd as another user"))
        func anotherUserIsRefused() throws {
            let directory = try UnixSocketDirectory()
            let old = try Takeover.startOld(in: directory)
            defer { old.stop() }
            let path = directory.file("control.sock")
            let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
            let arguments = ["--takeover", path, "--listen", old.endpoints[0].description, "--workers", "1"]

            #expect(try directory.permissions(of: "control.sock") == 0o600)
            chmod(directory.path, 0o755)
            let denied = try Self.runTakeover(arguments, launcher: nobody)
            #expect(denied.status == .exited(1), "\(denied.outputSummary)")
            #expect(
                denied.standardError.hasPrefix("ringd: error: cannot take over from \(path): connect failed: EACCES")
                    && denied.standardError.hasSuffix(
                        "The control socket is owner-only (0600): run ringd --takeover as the user the running ringd runs as.\n"),
                "\(denied.outputSummary)")

            chmod(path, 0o666)
            let refused = try Self.runTakeover(arguments, launcher: nobody)
            #expect(refused.status == .exited(1), "\(refused.outputSummary)")
            #expect(
                refused.standardError
                    == "ringd: error: cannot take over from \(path): it refused: uid 65534 is not the uid of the running ringd (0)\n",
                "\(refused.outputSummary)")
            try Self.expectStillServing(old, "after another user's attempts")
        }
    }
}
