// The counters each ringd worker prints on stderr when it stops:
//
//     ringd: info: worker=0: stopped: accepted 4, closed 4, closed idle 0, refused by access list 0,
//     refused with every slot taken 1, ..., receive buffers ran out 0 times, ...
//
// parsed into a name -> count table per worker, so a test can check that the counts add up to
// what it did (every client accepted and closed, the refusals and idle closes it caused).

import Glibc
import TestSupport
import Testing

struct WorkerCounters {
    /// Counters by worker index, from every `worker=N: stopped:` line in `standardError`.
    let byWorker: [Int: [String: Int]]
    /// The `worker=N: stopped:` lines, for failure messages.
    let lines: [String]

    init(parsing standardError: String) throws {
        var byWorker: [Int: [String: Int]] = [:]
        var lines: [String] = []
        for line in standardError.split(separator: "\n") {
            guard let marker = line.range(of: "worker="), let stopped = line.range(of: ": stopped: ") else { continue }
            guard let worker = Int(line[marker.upperBound..<stopped.lowerBound]) else {
                throw HarnessFailure("cannot parse the worker number in: \(line)")
            }
            guard byWorker[worker] == nil else {
                throw HarnessFailure("worker \(worker) reported twice:\n\(standardError)")
            }
            var counters: [String: Int] = [:]
            // "accepted 4", "closed idle 0", "receive buffers ran out 0 times": the number is the
            // last word, or the one before a trailing "times".
            for item in line[stopped.upperBound...].split(separator: ",") {
                var words = item.split(separator: " ")
                if words.last == "times" { words.removeLast() }
                guard let countText = words.popLast(), let count = Int(countText), !words.isEmpty else {
                    throw HarnessFailure("cannot parse the counter `\(item)` in: \(line)")
                }
                counters[words.joined(separator: " ")] = count
            }
            byWorker[worker] = counters
            lines.append(String(line))
        }
        self.byWorker = byWorker
        self.lines = lines
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
        return try WorkerCounters(parsing: standardError)
    }
}
