// Property tests: random valid documents must load to the data they were generated from, under
// both TOML-lite and tomllib; random edits of them must never be accepted by TOML-lite with a
// meaning tomllib does not give them.

import TestSupport
import Testing
import RingdConfig

@Suite struct RandomDocumentTests {
    @Test(arguments: [1 as UInt64, 2, 3])
    func generatedDocumentsMeanTheSameToBothParsers(seed: UInt64) throws {
        var generator = DocumentGenerator(seed: seed)
        let documents = (0..<150).map { _ in generator.document() }
        let reference = try Tomllib.outcomes(of: documents.map(\.text))
        for (document, tomllib) in zip(documents, reference) {
            #expect(tomllib == .accepted(document.expectedJSON), "seed \(seed): \(document.text.debugDescription)")
            #expect(liteOutcome(document.text) == .accepted(document.expectedJSON),
                    "seed \(seed): \(document.text.debugDescription)")
        }
    }

    @Test(arguments: [11 as UInt64, 12, 13])
    func editedDocumentsAreNeverMisread(seed: UInt64) throws {
        var generator = DocumentGenerator(seed: seed)
        var random = SeededRandom(seed: seed &* 7919)
        let documents = (0..<100).flatMap { _ in
            let original = generator.document().text
            return (0..<4).map { _ in mutated(original, using: &random) }
        }
        let reference = try Tomllib.outcomes(of: documents)
        var acceptedByBoth = 0
        var rejectedByBoth = 0
        for (document, tomllib) in zip(documents, reference) {
            let lite = liteOutcome(document)
            switch (lite, tomllib) {
            case (.accepted, _):
                #expect(lite == tomllib, "seed \(seed): \(document.debugDescription)")
                acceptedByBoth += 1
            case (.rejected(let message), .accepted):
                #expect(isDocumentedRestriction(message),
                        "seed \(seed): tomllib accepts \(document.debugDescription) but TOML-lite says \(message)")
            case (.rejected, .rejected):
                rejectedByBoth += 1
            }
        }
        // Edits must produce both kinds, or this test checks nothing.
        #expect(acceptedByBoth >= documents.count / 10)
        #expect(rejectedByBoth >= documents.count / 10)
    }
}
