// Commands to the test's Redis (TestSupport's RunningRedis) through redis-cli, the tool a user
// types them into. tools/setup.sh installs it with redis-server through apt-get when missing.
import Foundation
import TestSupport

extension RunningRedis {
    /// `redis-cli -p PORT ARGUMENTS...`, its reply as redis-cli prints it, without the newline.
    @discardableResult
    func command(_ arguments: String...) throws -> String {
        let password = options.firstIndex(of: "--requirepass").map { ["-a", options[$0 + 1], "--no-auth-warning"] } ?? []
        let run = try CompletedRun(
            executable: try Self.binary("redis-cli"), arguments: ["-p", String(endpoint.port)] + password + arguments)
        guard run.status == .success else { throw HarnessFailure("redis-cli \(arguments): \(run.outputSummary)") }
        return run.standardOutput.trimmingCharacters(in: .newlines)
    }
}
