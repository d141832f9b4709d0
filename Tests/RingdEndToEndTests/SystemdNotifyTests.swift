// sd_notify(3) against the release ringd, with the test standing in for systemd: its own
// datagram socket named in $NOTIFY_SOCKET (a path, or an @abstract name). The messages come in
// order: READY=1 once every worker listens, RELOADING=1 with MONOTONIC_USEC= and READY=1 around
// each SIGHUP (a refused file too), STOPPING=1 at SIGTERM; STATUS= follows the open
// connections; WATCHDOG=1 comes every half of $WATCHDOG_USEC, and stops while one worker's loop
// is stuck (its thread stopped with ptrace), until it turns again.
import Foundation
import Glibc
import TestSupport
import Testing

@Suite("systemd notifications")
struct SystemdNotifyTests {
    private static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }

    @Test("READY, STATUS with the open connections, RELOADING and READY around two SIGHUPs, STOPPING: in order")
    func lifecycleInOrder() throws {
        let listener = try NotifyListener(abstract: false)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ringd-notify-\(UUID().uuidString).toml").path
        defer { unlink(path) }
        let valid = "[server]\nmode = \"echo\"\nworkers = 2\nidle_timeout = \"1h\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n"
        try valid.write(toFile: path, atomically: true, encoding: .utf8)
        let ringd = try RunningRingd(
            arguments: ["--config", path, "--listen", "127.0.0.1:0"], expectedListeners: 1, launcher: listener.launcher())
        defer { ringd.stop() }

        let ready = try listener.waitFor("READY=1") { $0.hasPrefix("READY=1\n") }
        #expect(ready == "READY=1\nSTATUS=echo: 0 connections open, 2 workers\n")
        #expect(ringd.listeningLines.count == 1, "READY=1 comes after the listening lines")

        let clients = try (0..<3).map { _ in try LineConnection(connectingTo: ringd.endpoint) }
        for client in clients {
            try client.send("here\n")
            #expect(try client.readLineText() == "here\n")
        }
        _ = try listener.waitFor("STATUS= with 3 connections") { $0 == "STATUS=echo: 3 connections open, 2 workers\n" }

        for contents in [valid.replacingOccurrences(of: "1h", with: "2h"), "[server]\nworkers = \"many\"\n"] {
            try contents.write(toFile: path, atomically: true, encoding: .utf8)
            let before = Self.monotonicMicroseconds()
            kill(ringd.pid, SIGHUP)
            let reloading = try listener.waitFor("RELOADING=1") { $0.hasPrefix("RELOADING=1\n") }
            let after = Self.monotonicMicroseconds()
            let stamp = reloading.split(separator: "\n").first { $0.hasPrefix("MONOTONIC_USEC=") }
                .flatMap { UInt64($0.dropFirst("MONOTONIC_USEC=".count)) }
            #expect(stamp.map { (before...after).contains($0) } == true, "\(reloading) not within \(before)...\(after)")
            let reloaded = try listener.waitFor("READY=1 after the reload") { $0.hasPrefix("READY=1\n") }
            #expect(reloaded == "READY=1\nSTATUS=echo: 3 connections open, 2 workers\n")
        }
        let metrics = try ringd.requireMetricsEndpoint()
        let sample = try MetricsSample.scrape(metrics)
        #expect(sample.total("ringd_reloads_total", #"result="applied""#) == 1, "\(sample.text)")
        #expect(sample.total("ringd_reloads_total", #"result="failed""#) == 1, "\(sample.text)")

        ringd.child.send(signal: SIGTERM)
        let stopping = try listener.waitFor("STOPPING=1") { $0.hasPrefix("STOPPING=1\n") }
        #expect(stopping.hasPrefix("STOPPING=1\nSTATUS=draining "), "\(stopping)")
        #expect(try ringd.child.requireExit(within: .seconds(15)) == .success, "\(ringd.child.outputSummary)")

        let states = listener.messages.filter { !$0.hasPrefix("STATUS=") }.map { $0.prefix { $0 != "\n" } }
        #expect(states == ["READY=1", "RELOADING=1", "READY=1", "RELOADING=1", "READY=1", "STOPPING=1"], "\(listener.messages)")
    }

    @Test("an abstract NOTIFY_SOCKET (@name) gets READY=1 and STOPPING=1")
    func abstractSocketName() throws {
        let listener = try NotifyListener(abstract: true)
        let ringd = try RunningRingd(
            arguments: ["--listen", "127.0.0.1:0", "--workers", "1"], expectedListeners: 1, launcher: listener.launcher())
        defer { ringd.stop() }
        #expect(
            try listener.waitFor("READY=1") { $0.hasPrefix("READY=1\n") }
                == "READY=1\nSTATUS=echo: 0 connections open, 1 worker\n")
        ringd.child.send(signal: SIGTERM)
        _ = try listener.waitFor("STOPPING=1") { $0.hasPrefix("STOPPING=1\n") }
        #expect(try ringd.child.requireExit(within: .seconds(15)) == .success)
    }

    @Test("WATCHDOG=1 every half of WATCHDOG_USEC, withheld while worker 1 is stopped, resumed when it turns again")
    func watchdogFollowsTheWorkers() throws {
        let listener = try NotifyListener(abstract: false)
        let ringd = try RunningRingd(
            arguments: ["--listen", "127.0.0.1:0", "--workers", "2"], expectedListeners: 1,
            launcher: listener.launcher(watchdog: .milliseconds(400)))
        defer { ringd.stop() }
        _ = try listener.waitFor("READY=1") { $0.hasPrefix("READY=1\n") }
        for _ in 0..<3 { _ = try listener.waitFor("WATCHDOG=1") { $0 == "WATCHDOG=1\n" } }

        let stall = try ThreadStall(thread: "ringd-worker-1", of: ringd.pid)
        let stuck = try listener.waitFor("a STATUS naming worker 1 stuck") {
            $0.hasPrefix("STATUS=") && $0.contains("worker 1 stuck")
        }
        #expect(stuck == "STATUS=echo: worker 1 stuck, watchdog pings withheld; 0 connections open, 2 workers\n")
        // Six watchdog intervals with worker 1 stopped: not one ping, and nothing else changes.
        #expect(try listener.next(within: .milliseconds(1200)) == nil, "\(listener.messages)")

        stall.release()
        let recovered = try listener.waitFor("a STATUS without the stuck worker") { $0.hasPrefix("STATUS=") }
        #expect(recovered == "STATUS=echo: 0 connections open, 2 workers\n")
        _ = try listener.waitFor("WATCHDOG=1 again") { $0 == "WATCHDOG=1\n" }
        let stuckAt = listener.messages.firstIndex(of: stuck)!
        let recoveredAt = listener.messages.lastIndex(of: recovered)!
        #expect(!listener.messages[stuckAt...recoveredAt].contains("WATCHDOG=1\n"), "\(listener.messages)")
        #expect(ringd.child.standardError.contains("worker 1: the loop has not turned for 3000 ms; watchdog pings withheld"))
    }
}

/// One thread of a process stopped with ptrace (PTRACE_SEIZE, then PTRACE_INTERRUPT) by a
/// python3 helper, which holds it stopped until it exits: the rest of the process runs on. The
/// thread is found by the name ringd gives it (/proc/PID/task/TID/comm).
final class ThreadStall {
    private let helper: ChildProcess

    init(thread name: String, of pid: pid_t) throws {
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
        guard
            let tid = tasks.first(where: {
                (try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/comm", encoding: .utf8)) == name + "\n"
            })
        else { throw HarnessFailure("no thread named \(name) in /proc/\(pid)/task") }
        let script = """
            import ctypes, os, sys, time
            libc = ctypes.CDLL(None, use_errno=True)
            libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
            tid = int(sys.argv[1])
            for request in (0x4206, 0x4207):  # PTRACE_SEIZE, PTRACE_INTERRUPT
                if libc.ptrace(request, tid, None, None) != 0:
                    sys.exit("ptrace %#x: %s" % (request, os.strerror(ctypes.get_errno())))
            print("stopped", flush=True)
            time.sleep(120)
            """
        helper = try ChildProcess(executable: "/usr/bin/env", arguments: ["python3", "-c", script, tid])
        let deadline = Deadline(after: .seconds(20))
        while !helper.standardOutput.contains("stopped") {
            if let status = helper.exitStatus { throw HarnessFailure("the ptrace helper \(status)\n\(helper.outputSummary)") }
            guard !deadline.hasPassed else {
                throw HarnessFailure("the ptrace helper did not stop \(name)\n\(helper.outputSummary)")
            }
            usleep(10_000)
        }
    }

    /// Ends the helper: the kernel detaches it, and the thread runs again.
    func release() { helper.stop() }

    deinit { helper.stop() }
}
