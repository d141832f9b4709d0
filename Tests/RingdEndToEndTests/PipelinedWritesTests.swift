// Pipelining: thousands of small messages written back to back, each its own send(2), without
// waiting for any reply; the replies, concatenated, are the input in the same order.
import TestSupport
import Testing

@Suite("Pipelined writes")
struct PipelinedWritesTests {
    static let messageCount = 20_000

    @Test("20 000 small messages written back to back come back concatenated, in order")
    func repliesKeepOrder() throws {
        var random = SeededRandom(seed: testSeed(default: 3))
        // Each message names its index, so a reordering shows up as a different byte.
        let messages: [[UInt8]] = (0..<Self.messageCount).map { index in
            let filler = String(repeating: "x", count: Int.random(in: 0...48, using: &random))
            return Array("message \(index) \(filler)\n".utf8)
        }
        let input = messages.flatMap { $0 }

        let ringd = try RunningRingd()
        defer { ringd.stop() }
        let socket = try TestSocket(connectingTo: ringd.endpoint)
        let conversation = EchoConversation(socket: socket, payload: input, plan: .sizes(messages.map(\.count)[...]))
        EchoExchange.run([conversation])

        #expect(
            conversation.problem == nil,
            "\(conversation.problem ?? "") \(Self.messageLocation(in: messages, of: conversation))\n\(ringd.child.standardError)")
    }

    /// Which message the first wrong byte falls in, to tell a reorder from a corruption.
    static func messageLocation(in messages: [[UInt8]], of conversation: EchoConversation) -> String {
        guard let offset = firstDifference(conversation.payload, conversation.echoed) else { return "" }
        var start = 0
        for (index, message) in messages.enumerated() {
            if offset < start + message.count {
                let got = conversation.echoed[start...].prefix(message.count)
                return "in message \(index): expected \(String(decoding: message, as: UTF8.self).debugDescription), "
                    + "got \(String(decoding: got, as: UTF8.self).debugDescription)"
            }
            start += message.count
        }
        return ""
    }
}
