// EchoLines: the Perl echo server's conversation, byte for byte, and its access log.

import RingdServices
import Testing

@Suite struct EchoLinesTests {
    /// Replies to each line of `input`, framed as the server would, into one output stream.
    func conversation(_ input: String, numbering: Bool) -> String {
        var echo = EchoLines(numbering: numbering)
        var framer = LineFramer(maxLine: 1024)
        var output: [UInt8] = []
        Array(input.utf8).withUnsafeBytes { received in
            var position = 0
            while case .line(let line)? = framer.next(in: received, position: &position) {
                output += renderedBytes { #expect(echo.reply(to: line, into: &$0)) }
            }
        }
        if case .line(let last)? = framer.finish() {
            output += renderedBytes { #expect(echo.reply(to: last, into: &$0)) }
        }
        return String(decoding: output, as: UTF8.self)
    }

    @Test func numbersLinesLikeThePerlServer() {
        #expect(conversation("Here we go...\nWow, a response!\nGoodbye\n", numbering: true)
            == "1: Here we go...\n2: Wow, a response!\n3: Goodbye\n")
    }

    @Test func withoutNumberingTheReplyIsTheLine() {
        #expect(conversation("Here we go...\nWow, a response!\n", numbering: false) == "Here we go...\nWow, a response!\n")
    }

    @Test func keepsCRLFAndEchoesALastLineWithoutNewlineAsIs() {
        #expect(conversation("a\r\n\r\nb", numbering: true) == "1: a\r\n2: \r\n3: b")
    }

    @Test func numberingIsPerConnection() {
        var first = EchoLines(numbering: true)
        var second = EchoLines(numbering: true)
        let replies = withLine("x\n") { line in
            [
                rendered { _ = first.reply(to: line, into: &$0) },
                rendered { _ = first.reply(to: line, into: &$0) },
                rendered { _ = second.reply(to: line, into: &$0) },
            ]
        }
        #expect(replies == ["1: x\n", "2: x\n", "1: x\n"])
        #expect(first.linesAnswered == 2)
    }

    @Test func aReplyThatDoesNotFitIsNotCountedAndCanBeRetried() {
        var echo = EchoLines(numbering: true)
        withLine("Wow, a response!\n") { line in
            let truncated = rendered(capacity: 10) { #expect(echo.reply(to: line, into: &$0) == false) }
            #expect(truncated == "")
            #expect(echo.linesAnswered == 0)
            #expect(rendered { _ = echo.reply(to: line, into: &$0) } == "1: Wow, a response!\n")
        }
    }

    @Test func writesTheAccessLogLineWithHostAndPort() {
        let log = withLine("Here we go...\r\n") { line in
            rendered { #expect(EchoLines.writeAccessLog(peer: loopbackPeer, line: line, into: &$0)) }
        }
        #expect(log == "[127.0.0.1 35577] Here we go...\n")
        let last = withLine("Goodbye") { line in rendered { EchoLines.writeAccessLog(peer: loopbackPeer, line: line, into: &$0) } }
        #expect(last == "[127.0.0.1 35577] Goodbye\n")
        let ipv6 = Peer(address: IPAddress(ipv6High: 0, low: 1), port: 40000)
        #expect(withLine("hi\n") { line in rendered { EchoLines.writeAccessLog(peer: ipv6, line: line, into: &$0) } }
            == "[::1 40000] hi\n")
    }

    @Test func theLineTooLongErrorNamesTheLimit() {
        #expect(rendered { ServiceErrorLine.writeLineTooLong(maxLine: 65536, into: &$0) } == "error: line longer than 65536 bytes\n")
    }

    @Test func theMaximumReplyCountFitsTheLongestNumberedLine() {
        let maxLine = 32
        var echo = EchoLines(numbering: true)
        let line = String(repeating: "q", count: maxLine - 1) + "\r\n"
        // Number the line as high as it can go: reply to a billion lines would be slow, so check
        // the bound against the widest number directly.
        let widest = "\(UInt64.max): ".utf8.count + line.utf8.count
        #expect(EchoLines.maximumReplyCount(maxLine: maxLine) >= widest)
        withLine(line) { line in
            let text = rendered(capacity: EchoLines.maximumReplyCount(maxLine: maxLine)) {
                #expect(echo.reply(to: line, into: &$0))
            }
            #expect(text.hasPrefix("1: qqq"))
        }
    }
}
