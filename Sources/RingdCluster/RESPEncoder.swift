// RESPCommand: a Redis command as RESP puts it on the wire, an array of bulk strings,
//
//     *3\r\n$3\r\nSET\r\n$5\r\nalice\r\n$7\r\nworker2\r\n
//
// written into memory the caller owns through a ByteWriter. A command holds its arguments
// inline (views of the caller's bytes, literals, integers), so building and writing one
// allocates nothing; the writer takes the whole command or, when it does not fit, none of it,
// and several commands written one after another into the same writer go out as one pipelined
// send.
//
//     var claim = RESPCommand("SET")
//     claim.append(.joined(prefix, name))       // ringd:name:alice, with no copy to join them
//     claim.append(.bytes(node))
//     claim.append("NX")
//     claim.append("PX")
//     claim.append(.integer(30_000))
//     guard let range = claim.write(into: &writer) else { ... }   // full: send what is queued first

import RingdServices

/// One argument of a command: each becomes one bulk string.
public enum RESPArgument: ExpressibleByStringLiteral {
    /// Bytes the caller owns, valid until the command is written.
    case bytes(UnsafeRawBufferPointer)
    case text(StaticString)
    /// Written in decimal, as Redis reads numbers (`PX 30000`, `INCRBY k -2`).
    case integer(Int64)
    /// Two byte ranges as one argument: a key prefix and a name, say.
    case joined(UnsafeRawBufferPointer, UnsafeRawBufferPointer)

    public init(stringLiteral text: StaticString) {
        self = .text(text)
    }

    /// The argument's length in bytes, as its bulk header gives it.
    public var count: Int {
        switch self {
        case .bytes(let bytes): bytes.count
        case .text(let text): text.utf8CodeUnitCount
        case .integer(let value): (value < 0 ? 1 : 0) + decimalDigitCount(value.magnitude)
        case .joined(let first, let second): first.count + second.count
        }
    }

    /// `$count\r\n` and the bytes, then `\r\n`.
    func write(into writer: inout ByteWriter) {
        writer.write(UInt8(ascii: "$"))
        writer.write(decimal: UInt64(count))
        writer.write("\r\n")
        switch self {
        case .bytes(let bytes):
            writer.write(bytes)
        case .text(let text):
            writer.write(text)
        case .integer(let value):
            writer.write(decimal: value)
        case .joined(let first, let second):
            writer.write(first)
            writer.write(second)
        }
        writer.write("\r\n")
    }
}

/// A command and up to `maximumArgumentCount - 1` arguments, stored inline; see the file comment.
public struct RESPCommand {
    /// The command name included: enough for `SET key value NX PX ms`, `PUBLISH`, and `EVAL`
    /// with a script, two keys and four arguments (the relay's name claims).
    public static let maximumArgumentCount = 10

    private var arguments:
        (
            RESPArgument?, RESPArgument?, RESPArgument?, RESPArgument?, RESPArgument?,
            RESPArgument?, RESPArgument?, RESPArgument?, RESPArgument?, RESPArgument?
        ) = (nil, nil, nil, nil, nil, nil, nil, nil, nil, nil)
    /// Arguments so far, the command name included.
    public private(set) var count = 0

    public init(_ name: RESPArgument) {
        append(name)
    }

    public mutating func append(_ argument: RESPArgument) {
        precondition(count < Self.maximumArgumentCount, "a RESPCommand holds at most \(Self.maximumArgumentCount) arguments")
        withUnsafeMutableBytes(of: &arguments) {
            $0.storeBytes(of: argument, toByteOffset: count * MemoryLayout<RESPArgument?>.stride, as: RESPArgument?.self)
        }
        count += 1
    }

    /// The argument at `index`, the command name being 0.
    public subscript(index: Int) -> RESPArgument {
        precondition(index >= 0 && index < count, "argument \(index) of \(count)")
        return withUnsafeBytes(of: arguments) {
            $0.load(fromByteOffset: index * MemoryLayout<RESPArgument?>.stride, as: RESPArgument?.self)!
        }
    }

    /// The bytes the command takes on the wire.
    public var encodedCount: Int {
        var total = 1 + decimalDigitCount(UInt64(count)) + 2
        for index in 0..<count {
            let length = self[index].count
            total += 1 + decimalDigitCount(UInt64(length)) + 2 + length + 2
        }
        return total
    }

    /// Writes the command and returns the range it took, or writes nothing and returns nil
    /// when it does not fit.
    @discardableResult
    public func write(into writer: inout ByteWriter) -> Range<Int>? {
        let start = writer.count
        guard writer.claimRoom(for: encodedCount) else { return nil }
        writer.write(UInt8(ascii: "*"))
        writer.write(decimal: UInt64(count))
        writer.write("\r\n")
        for index in 0..<count { self[index].write(into: &writer) }
        return writer.commit(since: start) ? start..<writer.count : nil
    }
}
