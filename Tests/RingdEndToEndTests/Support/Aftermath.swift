// What every fault test checks once the fault is over: ringd still runs, the clients that stayed
// connected through it (bystanders) still get every byte back, a client that connects now is
// served, and once all of them have closed, ringd holds exactly the descriptors it held before
// any client came: nothing the fault touched leaked.
//
// The payloads are lines (random bytes other than "\n", each line ending in one), which raw echo
// and line echo both return unchanged, so the same check serves either mode.
import Glibc
import TestSupport

enum Aftermath {
    /// Opens `count` bystander connections and echoes a payload over each, so they are certainly
    /// accepted and working before the fault.
    static func openBystanders(_ count: Int, to endpoint: Endpoint, random: inout SeededRandom) throws -> [TestSocket] {
        let sockets = try (0..<count).map { _ in try TestSocket(connectingTo: endpoint) }
        let conversations = sockets.map { EchoConversation(socket: $0, payload: linePayload(byteCount: 16 * 1024, random: &random)) }
        EchoExchange.run(conversations)
        let problems = EchoExchange.problems(of: conversations)
        guard problems.isEmpty else {
            throw HarnessFailure("bystanders failed before the fault: \(problems.joined(separator: "\n"))")
        }
        return sockets
    }

    /// The problems after a fault, empty when all is well: `bystanders` and a fresh client each
    /// echo 64 KiB exactly; then every one of them is closed and ringd's descriptor count must
    /// return to `baseline`. The caller closes its own fault's sockets first.
    static func problems(
        of ringd: RunningRingd, bystanders: [TestSocket], baseline: Int, random: inout SeededRandom
    ) throws -> [String] {
        if let status = ringd.child.exitStatus {
            return ["ringd \(status) during the test\n\(ringd.child.outputSummary)"]
        }
        var problems: [String] = []
        let fresh = try TestSocket(connectingTo: ringd.endpoint)
        let sockets = bystanders + [fresh]
        let conversations = sockets.map {
            EchoConversation(
                socket: $0, payload: linePayload(byteCount: 64 * 1024, random: &random),
                plan: .random(SeededRandom(seed: random.next()), range: 1...(16 * 1024)))
        }
        EchoExchange.run(conversations)
        for (index, conversation) in conversations.enumerated() {
            guard let problem = conversation.problem else { continue }
            let who = index == bystanders.count ? "a client connecting after the fault" : "bystander \(index)"
            problems.append("\(who): \(problem)")
        }
        sockets.forEach { $0.close() }
        let settled = try ProcessDescriptors.waitForCount(of: ringd.pid, toBecome: baseline)
        if settled != baseline {
            problems.append("ringd holds \(settled) descriptors once every client has closed; it held \(baseline) before any")
        }
        if !problems.isEmpty { problems.append("ringd's stderr:\n\(ringd.child.standardError)") }
        return problems
    }
}

/// `byteCount` bytes of lines: random bytes other than "\n", in lines of 1 to 200 bytes, each
/// ending in "\n" (the last one included). Raw echo and line echo return it unchanged.
func linePayload(byteCount: Int, random: inout SeededRandom) -> [UInt8] {
    var payload = random.bytes(count: byteCount)
    var untilNewline = random.logUniform(in: 1...200)
    for index in payload.indices {
        untilNewline -= 1
        if untilNewline == 0 || index == payload.count - 1 {
            payload[index] = 0x0A
            untilNewline = random.logUniform(in: 1...200)
        } else if payload[index] == 0x0A {
            payload[index] = 0x0B
        }
    }
    return payload
}
