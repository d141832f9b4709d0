// Runs Python's tomllib (3.11+) as the reference TOML parser: one subprocess per batch of
// documents. A missing python3 or tomllib fails the test that asked, never skips it.

import Foundation
import RingdConfig

/// What a parser makes of one document.
enum ParseOutcome: Equatable, CustomStringConvertible {
    /// Accepted, with the canonical JSON (`json.dumps(..., sort_keys=True)`).
    case accepted(String)
    /// Rejected, with the error message.
    case rejected(String)

    var description: String {
        switch self {
        case .accepted(let json): "accepted \(json)"
        case .rejected(let message): "rejected: \(message)"
        }
    }

    var isAccepted: Bool {
        if case .accepted = self { true } else { false }
    }
}

struct TomllibUnavailable: Error, CustomStringConvertible {
    let description: String
}

enum Tomllib {
    /// Loads each document with `tomllib.loads` (so CRLF handling and all is tomllib's own) and
    /// writes the result as canonical JSON. Values JSON cannot hold (dates) become strings; they
    /// only occur in documents TOML-lite rejects.
    private static let script = """
        import json, sys, tomllib
        with open(sys.argv[1], encoding="utf-8") as f:
            documents = json.load(f)
        results = []
        for document in documents:
            try:
                value = tomllib.loads(document)
                results.append(["accepted", json.dumps(value, sort_keys=True, default=str)])
            except tomllib.TOMLDecodeError as error:
                results.append(["rejected", str(error)])
        json.dump(results, sys.stdout)
        """

    static func outcomes(of documents: [String]) throws -> [ParseOutcome] {
        let input = FileManager.default.temporaryDirectory
            .appendingPathComponent("ringd-tomllib-\(UUID().uuidString).json")
        try JSONEncoder().encode(documents).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, input.path]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TomllibUnavailable(description: "python3 with tomllib failed (\(process.terminationStatus)): \(errorText)")
        }
        let pairs = try JSONDecoder().decode([[String]].self, from: data)
        guard pairs.count == documents.count else {
            throw TomllibUnavailable(description: "tomllib answered \(pairs.count) of \(documents.count) documents")
        }
        return pairs.map { $0[0] == "accepted" ? .accepted($0[1]) : .rejected($0[1]) }
    }
}

/// What TOML-lite makes of a document, in the same terms.
func liteOutcome(_ text: String) -> ParseOutcome {
    do {
        return .accepted(try TOMLLite.parse(text, file: "doc.toml").canonicalJSON)
    } catch {
        return .rejected(error.description)
    }
}

/// Restrictions TOML-lite documents: tomllib may accept these documents, TOML-lite rejects them
/// on purpose. A rejection with any other message, of a document tomllib accepts, is a bug.
func isDocumentedRestriction(_ message: String) -> Bool {
    message.contains("is not supported by TOML-lite") || message.contains("are not supported by TOML-lite")
        || message.contains("does not fit in 64 bits")
}
