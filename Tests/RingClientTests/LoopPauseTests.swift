// `ring-client loop` between rounds: its help promises that each round "closes the connection,
// and pauses for --pause before the next round". A connection left open through the pause is
// still a client to the server: a broadcast server keeps pushing to it and counts it in
// {clients}, and the unread lines turn the eventual close into a reset.
import Foundation
import Glibc
import Synchronization
import TestSupport
import Testing

@Suite("loop pause")
struct LoopPauseTests {
    @Test("each round's connection is closed before the pause, not after it")
    func closedBeforeThePause() throws {
        let closed = Atomic<Bool>(false)
        let server = try TestServer { socket, number in
            _ = try? sendAll(socket, "line 1 of connection \(number)\n")
            _ = try? sendAll(socket, "line 2 of connection \(number)\n")
            // Wait for the client's end of the stream (a bound, so the thread never hangs).
            var bound = timeval(tv_sec: 60, tv_usec: 0)
            setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &bound, socklen_t(MemoryLayout<timeval>.size))
            var byte: UInt8 = 0
            let received = recv(socket, &byte, 1, 0)
            if number == 1 && (received == 0 || (received < 0 && errno == ECONNRESET)) {
                closed.store(true, ordering: .relaxed)
            }
        }
        // A pause far longer than the wait below: the first connection must end within the wait.
        let client = try ChildProcess(executable: try RingdPaths.ringClientBinary(),
                                      arguments: ["loop", "127.0.0.1", String(server.port), "--rounds", "2", "--pause", "120s"])
        let deadline = ContinuousClock.now + .seconds(20)
        while !closed.load(ordering: .relaxed) && client.exitStatus == nil && ContinuousClock.now < deadline {
            usleep(10_000)
        }
        let sawClose = closed.load(ordering: .relaxed)
        let printed = client.standardOutput
        client.stop()
        #expect(printed == "round 1: line 1 of connection 1\nround 1: line 2 of connection 1\n",
                "`\(client.commandLine)` printed:\n\(printed)\nstderr:\n\(client.standardError)")
        #expect(sawClose, "round 1's connection was still open 20 s into a 120 s pause (`\(client.commandLine)`)")
    }
}
