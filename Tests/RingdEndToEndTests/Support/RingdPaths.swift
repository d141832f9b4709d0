// Where the end-to-end tests find the package checkout and the `ringd` binary under test.
//
// The binary built by the same `swift build --build-tests` that built these tests sits beside the
// test executable, so that one is preferred: a test run from `.build-e2e` tests the `ringd` of
// `.build-e2e`, not a stale one from `.build`.
import Foundation

enum RingdPaths {
    /// The package root: the nearest directory above this source file that holds `Package.swift`.
    static let packageRoot: URL = {
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
    static func packageFile(_ relativePath: String) -> URL {
        packageRoot.appendingPathComponent(relativePath)
    }

    /// The `ringd` to test, in order of preference: `RINGD_BIN`, the one beside the running test
    /// executable, then `.build/debug/ringd`. A `RINGD_BIN` that does not exist is an error rather
    /// than a reason to fall back, so a typo never tests the wrong binary.
    static func ringdBinary() throws -> String {
        if let fromEnvironment = ProcessInfo.processInfo.environment["RINGD_BIN"], !fromEnvironment.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: fromEnvironment) else {
                throw HarnessFailure("RINGD_BIN=\(fromEnvironment) is not an executable file")
            }
            return fromEnvironment
        }
        let candidates = [
            testExecutableDirectory?.appendingPathComponent("ringd").path,
            packageFile(".build/debug/ringd").path,
        ].compactMap { $0 }
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            return found
        }
        throw HarnessFailure(
            "no ringd binary; looked at \(candidates.joined(separator: ", ")). "
                + "Build it with `swift build --product ringd` or set RINGD_BIN.")
    }

    /// `ringd-shout`, the engine running a mode the tests define: beside the `ringd` under test.
    static func shoutBinary() throws -> String {
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
struct HarnessFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
