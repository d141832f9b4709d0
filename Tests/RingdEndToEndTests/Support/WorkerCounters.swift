// The counters each ringd worker reports when it stops, from the one JSON line `--stats-json`
// prints on stdout (RunningRingd passes the flag to every ringd it starts):
//
//     {"workers":[{"accepted":4,"closed":4,"closed_idle":0,...},{"accepted":3,...}]}
//
// read into a name -> count table per worker, so a test can check that the counts add up to
// what it did (every client accepted and closed, the refusals and idle closes it caused). With a
// cluster the line ends with the node's name: `...}],"node":"east-1"}`.

import Foundation
import Glibc
import TestSupport
import Testing

struct WorkerCounters {
    /// Counters by worker index.
    let byWorker: [Int: [String: Int]]
    /// The JSON line, for failure messages.
    let lines: [String]
    /// `cluster.node` (or its default), with a cluster.
    let node: String?

    init(parsing standardOutput: String) throws {
        guard let line = standardOutput.split(separator: "\n").last(where: { $0.hasPrefix("{\"workers\":") }) else {
            throw HarnessFailure("no `{\"workers\":...}` line (--stats-json) on ringd's stdout:\n\(standardOutput)")
        }
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let workers = object["workers"] as? [[String: Int]]
        else { throw HarnessFailure("cannot read the statistics line: \(line)") }
        byWorker = Dictionary(uniqueKeysWithValues: workers.enumerated().map { ($0.offset, $0.element) })
        lines = [String(line)]
        node = object["node"] as? String
    }

    /// The sum of counter `name` over every worker; nil if some worker does not report it.
    func total(_ name: String) -> Int? {
        var sum = 0
        for counters in byWorker.values {
            guard let count = counters[name] else { return nil }
            sum += count
        }
        return sum
    }
}

extension ChildProcess {
    /// SIGTERM, then ringd must exit 0 within `timeout` (an issue at the caller otherwise); returns
    /// the counters each worker printed on its way out.
    func terminateAndReadCounters(within timeout: Duration = .seconds(15), sourceLocation: SourceLocation = #_sourceLocation) throws -> WorkerCounters {
        send(signal: SIGTERM)
        let status = try requireExit(within: timeout)
        #expect(status == .success, "\(status)\n\(outputSummary)", sourceLocation: sourceLocation)
        return try WorkerCounters(parsing: standardOutput)
    }
}
