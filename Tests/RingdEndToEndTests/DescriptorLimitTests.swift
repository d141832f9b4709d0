// Running out of descriptors: ringd started with RLIMIT_NOFILE at 64 and 100 clients at once.
// accept fails with EMFILE once ringd holds 64 descriptors; the clients it could not accept wait
// in the listen backlog (or are refused), ringd does not spin on the failing accept while it
// waits, and once served clients leave, it accepts the waiting ones by itself. Every client
// served gets its bytes back exactly.
import Foundation
import Glibc
import TestSupport
import Testing

extension HardeningTests {
    @Suite("Descriptor limit")
    struct DescriptorLimitTests {
        static let descriptorLimit = 64
        static let clientCount = 100

        @Test("RLIMIT_NOFILE=64 and 100 clients: the first ones are served, the rest wait; ringd does not spin; accepting resumes when some leave")
        func acceptingResumesAfterEMFILE() throws {
            let ringd = try RunningRingd.withDescriptorLimit(Self.descriptorLimit, extraArguments: ["--workers", "2"])
            defer { ringd.stop() }
            let baseline = try ProcessDescriptors.count(of: ringd.pid)
            var random = SeededRandom(seed: testSeed(default: 501))

            // Only numbers below the limit count: ringd may have inherited a descriptor above it.
            let room = Self.descriptorLimit - (try Self.descriptorsBelowLimit(of: ringd.pid))
            let clients = try (0..<Self.clientCount).map { _ in try LineConnection(connectingTo: ringd.endpoint) }
            let messages = (0..<Self.clientCount).map { Array("client \($0)\n".utf8) }
            for (client, message) in zip(clients, messages) { try client.queue(message) }
            func served(_ index: Int) -> Bool { clients[index].totalBytesReceived >= messages[index].count }

            // ringd fills every descriptor number below the limit: one per client beside its own.
            let filled = try LineConnection.pump(clients, within: .seconds(20)) {
                let used = try Self.descriptorsBelowLimit(of: ringd.pid)
                return clients.indices.filter(served).count >= room && used == Self.descriptorLimit
            }
            let firstServed = clients.indices.filter(served)
            try #require(
                filled,
                "ringd (with room for \(room) clients below its limit of \(Self.descriptorLimit) descriptors) served \(firstServed.count) of \(Self.clientCount) clients; \(room) expected\n\(ringd.child.standardError)")
            #expect(firstServed.count == room, "served \(firstServed.count) with room for \(room)")
            let waiting = clients.indices.filter { !served($0) && !clients[$0].hasEnded }
            let refused = clients.indices.filter { !served($0) && clients[$0].hasEnded }
            #expect(waiting.count + refused.count == Self.clientCount - room)

            // A stall window: ringd is at its limit with clients waiting. It must wait for a
            // descriptor to be freed, not retry the failing accept in a loop: over 2 s it may use
            // a quarter of a CPU second at most (it retries 10 times a second).
            let cpuBefore = try ProcessResources.cpuTime(of: ringd.pid)
            _ = try LineConnection.pump(clients, within: .seconds(2)) { false }
            let cpuUsed = try ProcessResources.cpuTime(of: ringd.pid) - cpuBefore
            #expect(cpuUsed < .milliseconds(500), "ringd used \(cpuUsed) of CPU in a 2 s stall at its descriptor limit")
            #expect(clients.indices.filter(served).count == room, "no client can be served while ringd is at its limit")

            // The first ones leave; the waiting ones are accepted and served without any help.
            // There are more of them than descriptors freed, so each one served leaves in turn.
            var open = clients.indices.filter { !firstServed.contains($0) }
            for index in firstServed { clients[index].socket.close() }
            let deadline = Deadline(after: .seconds(20))
            while !deadline.hasPassed {
                open.removeAll { index in
                    guard served(index) || clients[index].hasEnded else { return false }
                    clients[index].socket.close()
                    return true
                }
                if open.isEmpty { break }
                let pending = open.map { clients[$0] }
                _ = try LineConnection.pump(pending, within: .milliseconds(500)) { open.contains(where: served) }
            }
            let lateServed = waiting.filter(served)
            #expect(
                lateServed.count == waiting.count,
                "\(lateServed.count) of the \(waiting.count) waiting clients were served once the first \(room) left\n\(ringd.child.standardError)")
            let wrong = clients.indices.filter { served($0) && clients[$0].takeAll() != messages[$0] }
            #expect(wrong.isEmpty, "clients \(wrong.prefix(10)) got something other than their own message back")

            clients.forEach { $0.socket.close() }
            let problems = try Aftermath.problems(of: ringd, bystanders: [], baseline: baseline, random: &random)
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")

            let counters = try ringd.child.terminateAndReadCounters()
            let report = counters.lines.joined(separator: "\n")
            #expect(counters.total("accepted") == Self.clientCount - refused.count + 1, "the clients and the fresh one:\n\(report)")
            #expect((counters.total("accept_failures") ?? 0) > 0, "accept must have failed with EMFILE:\n\(report)")
        }

        /// How many of process `pid`'s descriptors have numbers below `descriptorLimit`, the ones
        /// RLIMIT_NOFILE allows it to allocate.
        static func descriptorsBelowLimit(of pid: pid_t) throws -> Int {
            try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").filter { (Int($0) ?? 0) < descriptorLimit }.count
        }
    }
}
