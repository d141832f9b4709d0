// `ringd --help`: exits 0 and documents every option a user needs.
import TestSupport
import Testing

@Suite("Help")
struct HelpTests {
    @Test("--help exits 0 and mentions --config, --listen, --workers, --set, --check")
    func helpNamesEveryOption() throws {
        let run = try CompletedRun(executable: try RingdPaths.ringdBinary(), arguments: ["--help"])

        #expect(run.status == .success, "\(run.outputSummary)")
        for option in ["--config", "--listen", "--workers", "--set", "--check"] {
            #expect(run.standardOutput.contains(option), "--help does not mention \(option)\n\(run.outputSummary)")
        }
    }
}
