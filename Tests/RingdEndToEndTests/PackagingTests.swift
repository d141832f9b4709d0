// What ships beside the binary: the systemd unit passes `systemd-analyze verify` (with its
// ExecStart pointed at the binary under test, since /usr/local/bin/ringd is not installed here)
// and says what the README promises; the Docker seccomp profile is Docker's default with
// io_uring allowed, unconditionally.
import Foundation
import TestSupport
import Testing

@Suite("Packaging")
struct PackagingTests {
    @Test("conf/ringd.service: systemd-analyze verify accepts it, Type=notify, reload by SIGHUP, io_uring in the filter")
    func unitFileVerifies() throws {
        let unit = try String(contentsOf: RingdPaths.packageFile("conf/ringd.service"), encoding: .utf8)
        for line in [
            "Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "WatchdogSec=10s", "LimitNOFILE=1048576", "DynamicUser=yes",
            "ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=",
            "SystemCallFilter=@system-service io_uring_setup io_uring_enter io_uring_register",
        ] {
            #expect(unit.split(separator: "\n").contains { $0 == line }, "no `\(line)` line in conf/ringd.service")
        }

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringd-unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let copy = directory.appendingPathComponent("ringd.service")
        try unit.replacingOccurrences(of: "/usr/local/bin/ringd", with: try RingdPaths.ringdBinary())
            .write(to: copy, atomically: true, encoding: .utf8)
        let run = try CompletedRun(executable: "/usr/bin/env", arguments: ["systemd-analyze", "verify", "--man=no", copy.path])
        #expect(run.status == .success, "\(run.outputSummary)")
        #expect(run.standardError.isEmpty && run.standardOutput.isEmpty, "\(run.outputSummary)")
    }

    @Test("conf/docker-seccomp.json: Docker's default (errno for the rest) plus an unconditional io_uring rule")
    func seccompProfileAllowsIOUring() throws {
        let data = try Data(contentsOf: RingdPaths.packageFile("conf/docker-seccomp.json"))
        let profile = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(profile["defaultAction"] as? String == "SCMP_ACT_ERRNO")
        let rules = try #require(profile["syscalls"] as? [[String: Any]])
        let allowed = rules.filter { $0["action"] as? String == "SCMP_ACT_ALLOW" && $0["args"] == nil && $0["includes"] == nil }
            .flatMap { $0["names"] as? [String] ?? [] }
        for call in ["io_uring_setup", "io_uring_enter", "io_uring_register", "accept4", "epoll_wait", "sendmsg", "mmap"] {
            #expect(allowed.contains(call), "\(call) is not allowed unconditionally")
        }
        let added = rules.filter { ($0["comment"] as? String)?.hasPrefix("ringd:") == true }
        #expect(
            added.count == 1 && rules.last?["comment"] as? String == added.first?["comment"] as? String, "one rule added, last")
    }
}
