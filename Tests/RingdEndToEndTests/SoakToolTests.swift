// tools/soak, briefly: the script starts the ringd under test twice (echo and broadcast), drives
// verified echo streams, connect churn, broadcast subscribers and resetting clients at both for
// 15 seconds, samples RSS and descriptors every second, and must end with no verification error,
// a flat verdict, descriptors back at their baseline and both servers exiting 0 on SIGTERM.
// It exits non-zero on a wrong or missing echoed byte, a broken heartbeat line, a crash or growth,
// so this test fails whenever the script sees any of them.
import Foundation
import TestSupport
import Testing

extension HardeningTests {
    @Suite("tools/soak")
    struct SoakToolTests {
        @Test("tools/soak --minutes 0.25 against the ringd under test: sample lines, load done, no errors, flat, exit 0")
        func shortSoakIsClean() throws {
            // Under AddressSanitizer RSS is not ringd's footprint: freed memory waits in ASan's
            // quarantine (up to 256 MiB) and every page has shadow memory, so RSS climbs for
            // minutes. There the RSS checks are opened wide; bytes, heartbeats, descriptors and
            // the exit status are checked as always. (tools/sanitize.sh sets RINGD_SANITIZER.)
            let underAddressSanitizer = ProcessInfo.processInfo.environment["RINGD_SANITIZER"] == "address"
            let rssBounds = underAddressSanitizer ? ["--rss-tolerance", "262144", "--rss-trend", "262144"] : []
            let run = try CompletedRun(
                executable: RingdPaths.packageFile("tools/soak").path,
                arguments: ["--minutes", "0.25", "--sample-seconds", "1", "--ringd", try RingdPaths.ringdBinary()] + rssBounds,
                timeout: .seconds(120))
            #expect(run.status == .success, "\(run.outputSummary)")

            let lines = run.standardOutput.split(separator: "\n").map(String.init)
            let samples = lines.filter { $0.hasPrefix("sample t=") }
            #expect(samples.count >= 12, "\(samples.count) sample lines\n\(run.outputSummary)")
            #expect(samples.allSatisfy { $0.hasSuffix(" errors=0") }, "\(run.outputSummary)")
            #expect(lines.contains("errors: 0"), "\(run.outputSummary)")
            #expect(lines.contains("verdict: flat"), "\(run.outputSummary)")
            #expect(lines.contains("ringd exit: echo 0, broadcast 0"), "\(run.outputSummary)")

            // Every kind of load ran: the last sample's counters are all above zero.
            let counters = Self.counters(in: samples.last ?? "")
            for name in ["echo_bytes", "connects", "resets", "sub_joins", "sub_lines"] {
                #expect((counters[name] ?? 0) > 0, "\(name) in the last sample: \(samples.last ?? "none")")
            }
        }

        /// The `name=number` fields of a sample line.
        static func counters(in sample: String) -> [String: Int] {
            var counters: [String: Int] = [:]
            for field in sample.split(separator: " ") {
                let parts = field.split(separator: "=", maxSplits: 1)
                if parts.count == 2, let value = Int(parts[1]) {
                    counters[String(parts[0])] = value
                }
            }
            return counters
        }
    }
}
