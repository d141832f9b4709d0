import Foundation
import RingdConfig

/// The repository's conf/ directory, found from this file's path.
let confDirectory: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // Support
    .deletingLastPathComponent()  // RingdConfigTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()  // the repository
    .appendingPathComponent("conf")
    .resolvingSymlinksInPath()

/// Every *.toml file in conf/, sorted by name.
func confFiles() throws -> [URL] {
    try FileManager.default.contentsOfDirectory(at: confDirectory, includingPropertiesForKeys: nil)
        .filter { $0.pathExtension == "toml" }
        .sorted { $0.lastPathComponent < $1.lastPathComponent }
}

/// Parses `text` as a configuration and returns the error's description, or nil when it parses.
func configurationError(_ text: String, file: String = "t.toml", overrides: [String] = []) -> String? {
    do {
        _ = try Configuration.parse(text: text, file: file, overrides: overrides)
        return nil
    } catch {
        return error.description
    }
}
