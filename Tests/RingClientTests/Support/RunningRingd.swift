// Starts the built `ringd` on 127.0.0.1 port 0 (echo mode unless told otherwise) and learns its
// port from the line it prints: `ringd: MODE listening on 127.0.0.1:PORT (N workers)`.
import Foundation
import Glibc

final class RunningRingd {
    let process: ChildProcess
    let port: Int

    /// `mode` is passed as `--mode` when given; each setting as `--set KEY=VALUE`, in order.
    init(workers: Int = 2, mode: String? = nil, settings: KeyValuePairs<String, String> = [:]) throws {
        var arguments = ["--listen", "127.0.0.1:0", "--workers", String(workers)]
        if let mode { arguments += ["--mode", mode] }
        for (key, value) in settings { arguments += ["--set", "\(key)=\(value)"] }
        process = try ChildProcess(try Binaries.ringd(), arguments)
        let deadline = ContinuousClock.now + .seconds(15)
        while true {
            if let port = Self.port(in: process.standardOutput + process.standardError) {
                self.port = port
                return
            }
            if let termination = process.termination {
                throw TestFailure("ringd ended (\(termination)) before listening:\n\(process.standardError)")
            }
            if ContinuousClock.now > deadline {
                process.stop()
                throw TestFailure("ringd did not report its port within 15 s:\n\(process.standardOutput)\(process.standardError)")
            }
            usleep(10_000)
        }
    }

    deinit { process.stop() }

    private static func port(in output: String) -> Int? {
        guard let range = output.range(of: "listening on 127.0.0.1:") else { return nil }
        let digits = output[range.upperBound...].prefix(while: { $0.isNumber })
        return Int(digits)
    }
}
