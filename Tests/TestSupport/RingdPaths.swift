// Where the tests find the package checkout and the `ringd` and `ring-client` binaries under test.
//
// The binaries built by the same `swift build --build-tests` that built these tests sit beside the
// test executable, so those are preferred: a test run from `.build-e2e` tests the `ringd` of
// `.build-e2e`, not a stale one from `.build`. RINGD_BIN and RING_CLIENT_BIN override.
import Foundation

package enum RingdPaths {
    /// The package root: the nearest directory above this source file that holds `Package.swift`.
    package static let packageRoot: URL = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                return directory
            }
            directory.deleteLastPathComponent()
        }
        fatalError("no Package.swift above \(#filePath)")
    }()

    /// A file inside the package, such as `conf/echo.toml`.
    package static func packageFile(_ relativePath: String) -> URL {
        packageRoot.appendingPathComponent(relativePath)
    }

    /// The `ringd` to test, in order of preference: `RINGD_BIN`, the one beside the running test
    /// executable, then `.build/debug/ringd`.
    package static func ringdBinary() throws -> String { try binary("ringd", environment: "RINGD_BIN") }

    /// The `ring-client` to test: `RING_CLIENT_BIN`, beside the test executable, `.build/debug`.
    package static func ringClientBinary() throws -> String { try binary("ring-client", environment: "RING_CLIENT_BIN") }

    /// A path from `environment` that does not exist is an error rather than a reason to fall
    /// back, so a typo never tests the wrong binary.
    private static func binary(_ name: String, environment: String) throws -> String {
        if let fromEnvironment = ProcessInfo.processInfo.environment[environment], !fromEnvironment.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: fromEnvironment) else {
                throw HarnessFailure("\(environment)=\(fromEnvironment) is not an executable file")
            }
            return fromEnvironment
        }
        let candidates = [
            testExecutableDirectory?.appendingPathComponent(name).path,
            packageFile(".build/debug/\(name)").path,
        ].compactMap { $0 }
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            return found
        }
        throw HarnessFailure(
            "no \(name) binary; looked at \(candidates.joined(separator: ", ")). "
                + "Build it with `swift build --product \(name)` or set \(environment).")
    }

    /// `ringd-shout`, the engine running a mode the tests define: beside the `ringd` under test.
    package static func shoutBinary() throws -> String {
        let path = URL(fileURLWithPath: try ringdBinary()).deletingLastPathComponent().appendingPathComponent("ringd-shout").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessFailure("no ringd-shout beside the ringd under test, at \(path); build it with `swift build`")
        }
        return path
    }

    /// The directory of the running test executable, which is SwiftPM's build products directory.
    private static var testExecutableDirectory: URL? {
        guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            return nil
        }
        return URL(fileURLWithPath: executable).deletingLastPathComponent()
    }
}

/// A failure of the harness or of ringd that a test reports as a thrown error, with enough context
/// (ringd's stderr, counts, errno names) to act on without rerunning.
package struct HarnessFailure: Error, CustomStringConvertible {
    package let description: String

    package init(_ description: String) {
        self.description = description
    }
}
