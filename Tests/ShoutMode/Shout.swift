// Shout: a sixth mode, defined outside ringd to show what adding one takes: this conformer, and
// one line that runs it (main.swift). Every line comes back upper-cased. After each line the
// service pauses reading, and resumes once the reply has been sent, so a client's lines are
// handled one at a time: the contract's pause, resume and output-drained events, end to end.

import RingdServices

struct Shout: Service {
    static var input: ServiceInput { .lines }
    static var wantsOutputDrained: Bool { true }

    var maximumLineLength: Int { 1024 }
    var maximumOutputCount: Int { maximumLineLength + 2 }

    mutating func received(_ line: Line, from slot: Int, into writer: inout ByteWriter) -> ServiceActions {
        let start = writer.count
        for byte in line.bytes {
            writer.write((UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 32 : byte)
        }
        guard writer.commit(since: start) else { return ServiceActions() }
        var actions = ServiceActions(.send(bytes: start..<writer.count, to: .one(slot: slot)))
        actions.append(.pauseReading(slot: slot))
        return actions
    }

    mutating func outputDrained(_ slot: Int, into writer: inout ByteWriter) -> ServiceActions {
        ServiceActions(.resumeReading(slot: slot))
    }

    mutating func reconfigure(from fresh: consuming Shout) {}
}
