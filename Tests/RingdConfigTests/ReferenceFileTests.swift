// conf/: the reference file lists every key at its default with a comment, there is one example
// file per mode that selects it, and every file loads.

import Foundation
import Testing
@testable import RingdConfig

@Suite struct ReferenceFileTests {
    private let reference = confDirectory.appendingPathComponent("ringd.toml")

    @Test func referenceFileIsExactlyTheDefaults() throws {
        #expect(try Configuration.load(file: reference.path, overrides: []) == .defaults)
    }

    @Test func referenceFileListsEveryKeyAtItsDefaultWithAComment() throws {
        let text = try String(contentsOf: reference, encoding: .utf8)
        let document = try TOMLLite.parse(text, file: reference.path)
        #expect(document.topLevel.entries.isEmpty)
        #expect(document.tables.map(\.name) == Schema.tableNames)
        #expect(document.tables.map(\.entries.count).reduce(0, +) == Schema.keys.count)
        let lines = text.split(separator: "\n").map(String.init)
        for key in Schema.keys {
            #expect(document[key.table]?[key.name]?.value == key.defaultValue, "\(key.path) is missing or not at its default")
            let line = lines.first { $0.hasPrefix("\(key.name) = ") }
            #expect(line?.contains(" # ") == true, "\(key.path) has no comment")
        }
    }

    @Test func referenceFileKeyLinesAreWhatCheckPrintsForTheDefaults() throws {
        // Comment lines and blank lines aside, the file is `ringd --check` without a file.
        func statements(_ text: String) -> [String] {
            text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
        }
        let text = try String(contentsOf: reference, encoding: .utf8)
        #expect(statements(text) == statements(Configuration.defaults.rendered()))
    }

    @Test func echoExampleIsAnEchoServerOnLoopback() throws {
        let configuration = try Configuration.load(file: confDirectory.appendingPathComponent("echo.toml").path, overrides: [])
        #expect(configuration.server.mode == .echo)
        #expect(configuration.server.listen == [try ListenAddress(parsing: "127.0.0.1:7000")])
    }

    /// The example files and the mode each must select; every mode has one.
    static let modeFiles: [(file: String, mode: ServiceMode)] = [
        ("greet.toml", .greet), ("counter.toml", .counter), ("echo.toml", .echo), ("echo-lines.toml", .echo),
        ("broadcast.toml", .broadcast), ("relay.toml", .relay),
    ]

    private func load(_ file: String) throws -> Configuration {
        try Configuration.load(file: confDirectory.appendingPathComponent(file).path, overrides: [])
    }

    @Test(arguments: modeFiles)
    func eachModeFileSelectsItsModeOnLoopback(file: String, mode: ServiceMode) throws {
        let configuration = try load(file)
        #expect(configuration.server.mode == mode)
        #expect(configuration.server.listen.map(\.host) == ["127.0.0.1"])
        #expect((7000...7005).contains(configuration.server.listen.first?.port ?? 0))
    }

    @Test func everyModeHasAFileAndEveryFileListensOnItsOwnPort() throws {
        #expect(Set(Self.modeFiles.map(\.mode)) == Set(ServiceMode.allCases))
        #expect(try confFiles().map(\.lastPathComponent).sorted()
            == (Self.modeFiles.map(\.file) + ["ringd.toml"]).sorted())
        let ports = try Self.modeFiles.map { try load($0.file).server.listen.first?.port }
        #expect(Set(ports).count == Self.modeFiles.count, "\(ports)")
    }

    @Test func echoLinesExampleTurnsOnEveryLineFeature() throws {
        let echo = try load("echo-lines.toml").echo
        #expect(echo == EchoSettings(lines: true, lineNumbers: true, maxLine: 64 << 10, accessLog: true))
        #expect(try load("echo.toml").echo.lines == false)
    }

    @Test func everyFileInConfLoads() throws {
        let files = try confFiles()
        #expect(files.count >= 7)
        for file in files {
            #expect(throws: Never.self, "\(file.lastPathComponent)") {
                try Configuration.load(file: file.path, overrides: [])
            }
        }
    }
}
