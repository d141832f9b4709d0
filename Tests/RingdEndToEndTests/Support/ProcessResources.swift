// What a process costs the machine, read from /proc: its resident memory (VmRSS) and the CPU
// time all its threads have used. Tests use them as resource bounds (ringd holds bounded memory
// for a client that never reads; ringd does not spin while it waits), never as speed.
import Foundation
import Glibc
import TestSupport

enum ProcessResources {
    /// The resident set size of process `pid`, in bytes, from the VmRSS line of /proc/PID/status.
    static func residentBytes(of pid: pid_t) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kibibytes = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first
                .flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) })
        else {
            throw HarnessFailure("no VmRSS line in /proc/\(pid)/status:\n\(status)")
        }
        return kibibytes * 1024
    }

    /// The CPU time (user plus system) used so far by every thread of process `pid`, from the
    /// utime and stime fields of /proc/PID/stat, which count clock ticks.
    static func cpuTime(of pid: pid_t) throws -> Duration {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // The command name, in parentheses, may hold spaces: count fields after the last ')'.
        // Field 3 (state) is the first after it, so utime (14) and stime (15) are the 12th and
        // 13th.
        guard let close = stat.lastIndex(of: ")") else {
            throw HarnessFailure("cannot parse /proc/\(pid)/stat: \(stat)")
        }
        let fields = stat[stat.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else {
            throw HarnessFailure("cannot parse /proc/\(pid)/stat: \(stat)")
        }
        let ticksPerSecond = sysconf(Int32(_SC_CLK_TCK))
        return .milliseconds((user + system) * 1000 / ticksPerSecond)
    }
}
