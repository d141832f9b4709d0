// What ringd holds open, read from /proc: the number of descriptors (to check that connections
// are released) and the TCP ports of its listening sockets (to check where connections land).
import Foundation
import Glibc
import TestSupport

enum ProcessDescriptors {
    /// The number of open descriptors of process `pid`.
    static func count(of pid: pid_t) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
    }

    /// What each open descriptor of `pid` is, by number: the targets of /proc/PID/fd's links,
    /// such as `socket:[123]`, `anon_inode:[io_uring]` or a path.
    static func targets(of pid: pid_t) throws -> [Int: String] {
        let directory = "/proc/\(pid)/fd"
        var targets: [Int: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            guard let number = Int(name), let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\(name)") else { continue }
            targets[number] = target
        }
        return targets
    }

    /// Waits until process `pid` holds exactly `expected` descriptors, for at most `timeout`;
    /// returns the last count seen, which the caller compares with `expected`.
    static func waitForCount(of pid: pid_t, toBecome expected: Int, timeout: Duration = .seconds(20)) throws -> Int {
        let deadline = Deadline(after: timeout)
        var current = try count(of: pid)
        while current != expected && !deadline.hasPassed {
            usleep(20_000)
            current = try count(of: pid)
        }
        return current
    }

    /// The local ports of the TCP sockets in LISTEN state that process `pid` holds.
    static func listeningPorts(of pid: pid_t) throws -> Set<UInt16> {
        let inodes = try socketInodes(of: pid)
        var ports: Set<UInt16> = []
        for table in ["tcp", "tcp6"] {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/net/\(table)", encoding: .utf8) else { continue }
            // Columns: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
            for line in text.split(separator: "\n").dropFirst() {
                let columns = line.split(separator: " ", omittingEmptySubsequences: true)
                guard columns.count > 9, columns[3] == "0A", inodes.contains(String(columns[9])),
                    let portText = columns[1].split(separator: ":").last,
                    let port = UInt16(portText, radix: 16)
                else { continue }
                ports.insert(port)
            }
        }
        return ports
    }

    /// The inode numbers of the sockets among `pid`'s descriptors (`socket:[12345]` links).
    private static func socketInodes(of pid: pid_t) throws -> Set<String> {
        let sockets = try targets(of: pid).values.filter { $0.hasPrefix("socket:[") }
        return Set(sockets.map { String($0.dropFirst("socket:[".count).dropLast()) })
    }
}

/// Raises this test process's soft RLIMIT_NOFILE to `count` when it is lower, for a test that
/// holds thousands of connections itself. ringd and the other children inherit it. Fails, naming
/// both figures, when the hard limit is lower: the test cannot run here as written.
func raiseDescriptorLimit(to count: Int) throws {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
        throw HarnessFailure("getrlimit(RLIMIT_NOFILE): errno \(errno)")
    }
    guard limit.rlim_cur < rlim_t(count) else { return }
    guard limit.rlim_max >= rlim_t(count) else {
        throw HarnessFailure("this test holds \(count) descriptors, and the hard RLIMIT_NOFILE is \(limit.rlim_max)")
    }
    limit.rlim_cur = rlim_t(count)
    guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
        throw HarnessFailure("setrlimit(RLIMIT_NOFILE, \(count)): errno \(errno)")
    }
}
