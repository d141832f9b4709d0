// `ringd --help`: exits 0, documents every option a user needs, and reads as flowing text at any
// terminal width: ArgumentParser wraps the help to COLUMNS (else 80), so a line the source broke
// by hand comes out broken twice, a sentence cut in the middle ("like the Perl\nserver").
import TestSupport
import Testing

@Suite("Help")
struct HelpTests {
    @Test("--help exits 0 and mentions --config, --listen, --workers, --set, --check, metrics.listen")
    func helpNamesEveryOption() throws {
        let run = try CompletedRun(executable: try RingdPaths.ringdBinary(), arguments: ["--help"])

        #expect(run.status == .success, "\(run.outputSummary)")
        for option in ["--config", "--listen", "--workers", "--set", "--check", "metrics.listen", "ringd.service"] {
            #expect(run.standardOutput.contains(option), "--help does not mention \(option)\n\(run.outputSummary)")
        }
    }

    @Test("--help has no sentence broken twice, at 80, 100 and 132 columns", arguments: [80, 100, 132])
    func helpFlowsAtEveryWidth(columns: Int) throws {
        let run = try CompletedRun(
            executable: "/usr/bin/env", arguments: ["COLUMNS=\(columns)", try RingdPaths.ringdBinary(), "--help"])
        #expect(run.status == .success, "\(run.outputSummary)")

        let problems = Self.doubleWraps(in: run.standardOutput, width: columns)
        #expect(problems.isEmpty, "at \(columns) columns:\n\(problems.joined(separator: "\n"))\n\(run.standardOutput)")
    }

    /// Line pairs that only a break by hand explains, in the prose before USAGE:
    /// - a paragraph line followed by more of the same paragraph although the next word would have
    ///   fitted on it (the wrapper only breaks when it must; it keeps lines under `width`, so a
    ///   word that would end in the last column goes to the next line);
    /// - an indented entry (a list item, an example) whose continuation lost its indentation: the
    ///   wrapper carried a hand-indented line over and knows nothing of the indent.
    /// A line ending in ':' introduces a list, and a blank line ends a paragraph.
    static func doubleWraps(in help: String, width: Int) -> [String] {
        let prose = help.components(separatedBy: "\nUSAGE:")[0]
        let lines = prose.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var problems: [String] = []
        for (line, next) in zip(lines, lines.dropFirst()) where !line.isEmpty && !next.isEmpty {
            let nextIndented = next.hasPrefix(" ")
            if line.hasPrefix(" ") {
                if !nextIndented {
                    problems.append("an indented line carried over without its indent: \"\(line)\" / \"\(next)\"")
                }
                continue
            }
            guard !nextIndented, !line.hasSuffix(":") else { continue }
            let nextWord = next.prefix { $0 != " " }
            if line.count + 1 + nextWord.count < width {
                problems.append("broken by hand, \"\(nextWord)\" would fit: \"\(line)\" / \"\(next)\"")
            }
        }
        return problems
    }

    @Test("the check finds the double wraps of the help before issue 13")
    func checkFindsTheOldDoubleWraps() {
        // Lines of the old `ringd --help` at 80 columns.
        let old = """
            Modes (server.mode; conf/ has a commented file for each):
              echo       send every byte back; echo.lines = true answers whole lines,
                         echo.line_numbers = true numbers them "1: ..." like the Perl
            server
            SIGINT or SIGTERM stops accepting, lets queued output drain
            (server.drain_timeout) and
            exits 0; a second signal exits at once.

            USAGE: ringd
            """
        let problems = Self.doubleWraps(in: old, width: 80)
        #expect(
            problems.contains { $0.hasPrefix("an indented line carried over") && $0.hasSuffix("/ \"server\"") }, "\(problems)")
        #expect(problems.contains { $0.contains("\"exits\" would fit") }, "\(problems)")
    }
}
