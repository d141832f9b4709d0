// Where the tests find the `ring-client` and `ringd` binaries under test.
//
// `swift build --build-tests` puts every product beside the test executable, so that directory
// comes first: a test run from `.build-client` tests the binaries of `.build-client`.
// RING_CLIENT_BIN and RINGD_BIN override; `<package>/.build/debug/` is the last resort.
import Foundation

enum Binaries {
    static func ringClient() throws -> String { try locate("ring-client", environment: "RING_CLIENT_BIN") }
    static func ringd() throws -> String { try locate("ringd", environment: "RINGD_BIN") }

    private static func locate(_ name: String, environment: String) throws -> String {
        if let path = ProcessInfo.processInfo.environment[environment], !path.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw TestFailure("\(environment)=\(path) is not an executable file")
            }
            return path
        }
        var candidates: [String] = []
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent(name).path)
        }
        candidates.append(packageRoot.appendingPathComponent(".build/debug/\(name)").path)
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
        throw TestFailure("no \(name) binary; looked at \(candidates.joined(separator: ", ")). Build it with `swift build --build-tests`.")
    }

    private static let packageRoot: URL = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) { return directory }
            directory.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()
}

/// A failure of the test harness or of the program under test, with what it saw.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
