// greet mode, the first Tcl socket exercise: "accept a connection, send a message and
// immediately close the channel". Each client gets `greet.message` rendered for it, by default
// `Hello from ringd, HOST PORT\n` with its own address and port as ringd sees them (the client
// socket's getsockname), and then a clean end of stream: a FIN, never a reset.
import Foundation
import TestSupport
import Testing

@Suite("greet mode")
struct GreetModeTests {
    static let arguments = ["--mode", "greet", "--workers", "2"]

    @Test("the default greeting names the client's own address and port, then a clean end of stream")
    func defaultGreetingNamesThePeer() throws {
        let ringd = try RunningRingd(extraArguments: Self.arguments)
        defer { ringd.stop() }

        for _ in 0..<20 {
            let connection = try LineConnection(connectingTo: ringd.endpoint)
            let peer = try connection.socket.localEndpoint
            let (bytes, end) = try connection.readToEnd(within: .seconds(10))
            #expect(
                bytes == Array("Hello from ringd, 127.0.0.1 \(peer.port)\n".utf8),
                "got \(quoted(bytes))\n\(ringd.child.standardError)")
            #expect(end == .endOfStream)
        }
    }

    @Test(
        "over IPv6 the peer is written `::1 PORT`",
        .enabled(if: Endpoint.ipv6LoopbackAvailable, "::1 cannot be bound on this machine"))
    func defaultGreetingOverIPv6() throws {
        let ringd = try RunningRingd(listen: ["[::1]:0"], extraArguments: Self.arguments)
        defer { ringd.stop() }

        let connection = try LineConnection(connectingTo: ringd.endpoint)
        let peer = try connection.socket.localEndpoint
        let (bytes, end) = try connection.readToEnd(within: .seconds(10))
        #expect(bytes == Array("Hello from ringd, ::1 \(peer.port)\n".utf8), "got \(quoted(bytes))")
        #expect(end == .endOfStream)
    }

    @Test("200 clients connected at once each get their own peer, whichever worker took them")
    func concurrentClientsEachGetTheirOwnPeer() throws {
        let ringd = try RunningRingd(extraArguments: Self.arguments)
        defer { ringd.stop() }

        let connections = try (0..<200).map { _ in try LineConnection(connectingTo: ringd.endpoint) }
        let peers = try connections.map { try $0.socket.localEndpoint }
        let allEnded = try LineConnection.pump(connections, within: .seconds(20)) {
            connections.allSatisfy(\.hasEnded)
        }
        #expect(allEnded, "\(connections.filter { !$0.hasEnded }.count) of 200 connections still open")

        var problems: [String] = []
        for (connection, peer) in zip(connections, peers) {
            let bytes = connection.takeAll()
            let expected = "Hello from ringd, 127.0.0.1 \(peer.port)\n"
            if bytes != Array(expected.utf8) || connection.end != .endOfStream {
                problems.append("\(peer): got \(quoted(bytes)) then \(connection.end.map(String.init(describing:)) ?? "nothing")")
            }
        }
        let failedConnections = problems.count
        #expect(failedConnections == 0, "\(problems.prefix(10).joined(separator: "\n"))")
    }

    @Test("a custom greet.message fills {time}, {peer} and {clients} and keeps literal braces")
    func customTemplate() throws {
        let template = #"greet.message="hi {time} from {peer} clients={clients} {{literal}}\n""#
        let ringd = try RunningRingd(extraArguments: Self.arguments + ["--set", template])
        defer { ringd.stop() }

        for _ in 0..<5 {
            let before = Date().timeIntervalSince1970
            let connection = try LineConnection(connectingTo: ringd.endpoint)
            let peer = try connection.socket.localEndpoint
            let (bytes, end) = try connection.readToEnd(within: .seconds(10))
            let after = Date().timeIntervalSince1970
            #expect(end == .endOfStream)

            let text = String(decoding: bytes, as: UTF8.self)
            let prefix = "hi "
            let suffix = " from 127.0.0.1 \(peer.port) clients="
            guard text.hasPrefix(prefix), let suffixRange = text.range(of: suffix) else {
                Issue.record("got \(quoted(bytes))")
                continue
            }
            let time = String(text[text.index(text.startIndex, offsetBy: prefix.count)..<suffixRange.lowerBound])
            #expect(isUnixTimeWithMicroseconds(time), "{time} rendered as \(time)")
            // The time is the server's clock when it accepted: between the test's own clock
            // readings around the exchange (give or take a second for rounding and scheduling).
            if let seconds = Double(time) {
                #expect(seconds >= before - 1 && seconds <= after + 1, "{time} \(time) is not now (\(before)...\(after))")
            }
            let rest = text[suffixRange.upperBound...]
            guard let space = rest.firstIndex(of: " ") else {
                Issue.record("got \(quoted(bytes))")
                continue
            }
            let clients = Int(rest[..<space])
            #expect(clients != nil && clients! >= 1, "{clients} rendered as \(rest[..<space])")
            #expect(rest[space...] == " {literal}\n", "got \(quoted(bytes))")
        }
    }
}

/// `SECONDS.MICROSECONDS`, as `{time}` renders: digits, a point, exactly six digits.
func isUnixTimeWithMicroseconds(_ text: some StringProtocol) -> Bool {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    return parts.count == 2 && !parts[0].isEmpty && parts[0].allSatisfy(\.isASCIIDigit)
        && parts[1].count == 6 && parts[1].allSatisfy(\.isASCIIDigit)
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
