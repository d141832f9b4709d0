// What RESPDecoder must agree with, shared by RingdClusterTests and the libFuzzer harness
// (tools/fuzz/RESPFuzzer.swift compiles this file too, so it imports nothing but RingdCluster):
//
// - RESPValue, a whole decoded value, and its wire form (`encoded`), to build streams from values;
// - RESPReference, the plainest decoder there is: recursive descent over the complete stream,
//   with arrays and Strings, written without looking at the real decoder's code paths; its
//   rules are the ones RESP.swift states, and where an error is found is part of them;
// - RESPStreamDecoder, the real decoder fed a stream in given reads the way a connection would:
//   unconsumed bytes kept and the next read appended, its elements assembled into values.

import RingdCluster

/// A RESP value, decoded whole. A map is its keys and values in order, flattened.
indirect enum RESPValue: Equatable, Sendable, CustomStringConvertible {
    case simpleString([UInt8])
    case error([UInt8])
    case integer(Int64)
    case bulkString([UInt8]?)
    case array([RESPValue]?)
    case null
    case boolean(Bool)
    case double([UInt8])
    case bigNumber([UInt8])
    case bulkError([UInt8])
    case verbatimString(format: [UInt8], text: [UInt8])
    case map([RESPValue])
    case set([RESPValue])
    case push([RESPValue])

    static func simple(_ text: String) -> RESPValue { .simpleString(Array(text.utf8)) }
    static func bulk(_ text: String) -> RESPValue { .bulkString(Array(text.utf8)) }

    /// The value on the wire.
    var encoded: [UInt8] {
        func line(_ type: String, _ content: [UInt8]) -> [UInt8] { Array(type.utf8) + content + [13, 10] }
        func line(_ type: String, _ number: Int) -> [UInt8] { line(type, Array(String(number).utf8)) }
        func bulk(_ type: String, _ payload: [UInt8]) -> [UInt8] { line(type, payload.count) + payload + [13, 10] }
        switch self {
        case .simpleString(let text): return line("+", text)
        case .error(let text): return line("-", text)
        case .integer(let value): return line(":", Array(String(value).utf8))
        case .bulkString(nil): return line("$", -1)
        case .bulkString(let payload?): return bulk("$", payload)
        case .array(nil): return line("*", -1)
        case .array(let elements?): return line("*", elements.count) + elements.flatMap(\.encoded)
        case .null: return line("_", [])
        case .boolean(let value): return line("#", value ? [UInt8(ascii: "t")] : [UInt8(ascii: "f")])
        case .double(let text): return line(",", text)
        case .bigNumber(let text): return line("(", text)
        case .bulkError(let payload): return bulk("!", payload)
        case .verbatimString(let format, let text): return bulk("=", format + [UInt8(ascii: ":")] + text)
        case .map(let elements): return line("%", elements.count / 2) + elements.flatMap(\.encoded)
        case .set(let elements): return line("~", elements.count) + elements.flatMap(\.encoded)
        case .push(let elements): return line(">", elements.count) + elements.flatMap(\.encoded)
        }
    }

    var description: String {
        func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self).debugDescription }
        func list(_ values: [RESPValue]) -> String { "[" + values.map(\.description).joined(separator: ", ") + "]" }
        switch self {
        case .simpleString(let bytes): return "+\(text(bytes))"
        case .error(let bytes): return "-\(text(bytes))"
        case .integer(let value): return ":\(value)"
        case .bulkString(let bytes): return bytes.map { "$\(text($0))" } ?? "$nil"
        case .array(let values): return values.map { "*\(list($0))" } ?? "*nil"
        case .null: return "_"
        case .boolean(let value): return "#\(value)"
        case .double(let bytes): return ",\(text(bytes))"
        case .bigNumber(let bytes): return "(\(text(bytes))"
        case .bulkError(let bytes): return "!\(text(bytes))"
        case .verbatimString(let format, let body): return "=\(text(format)):\(text(body))"
        case .map(let values): return "%\(list(values))"
        case .set(let values): return "~\(list(values))"
        case .push(let values): return ">\(list(values))"
        }
    }
}

/// How a stream ended, once every whole value was taken from it.
enum RESPStreamEnd: Equatable, CustomStringConvertible {
    /// It ended between values.
    case complete
    /// It ended inside a value.
    case incomplete
    case failed(RESPProtocolError)

    var description: String {
        switch self {
        case .complete: "complete"
        case .incomplete: "incomplete"
        case .failed(let error): "\(error)"
        }
    }
}

/// The top-level values in `stream` and how it ended, by recursive descent.
struct RESPReference {
    let stream: [UInt8]
    let limits: RESPLimits

    private enum Stop: Error {
        case incomplete
        case failed(RESPProtocolError)
    }

    static func decode(_ stream: [UInt8], limits: RESPLimits = .standard) -> (values: [RESPValue], end: RESPStreamEnd) {
        let reference = RESPReference(stream: stream, limits: limits)
        var values: [RESPValue] = []
        var index = 0
        while index < stream.count {
            do throws(Stop) {
                values.append(try reference.value(at: &index, depth: 0))
            } catch {
                switch error {
                case .incomplete: return (values, .incomplete)
                case .failed(let error): return (values, .failed(error))
                }
            }
        }
        return (values, .complete)
    }

    private func value(at index: inout Int, depth: Int) throws(Stop) -> RESPValue {
        guard index < stream.count else { throw .incomplete }
        let start = index
        let type = Character(Unicode.Scalar(stream[start]))
        guard "+-:$*_#,(!=%~>".contains(type) else { throw fail(.unknownType(stream[start]), start) }
        let content = try line(from: start)
        index = start + 1 + content.count + 2
        switch type {
        case "+": return .simpleString(content)
        case "-": return .error(content)
        case ":":
            guard let value = Int64(String(decoding: content, as: UTF8.self)) else { throw fail(.malformedInteger, start) }
            return .integer(value)
        case "_":
            guard content.isEmpty else { throw fail(.malformedValue, start) }
            return .null
        case "#":
            guard content == [UInt8(ascii: "t")] || content == [UInt8(ascii: "f")] else { throw fail(.malformedValue, start) }
            return .boolean(content == [UInt8(ascii: "t")])
        case ",": return .double(content)
        case "(": return .bigNumber(content)
        case "$", "!", "=": return try bulk(type, header: content, start: start, at: &index)
        default: return try aggregate(type, header: content, start: start, at: &index, depth: depth)
        }
    }

    /// The content of the line that starts with the type byte at `start`.
    private func line(from start: Int) throws(Stop) -> [UInt8] {
        var index = start + 1
        while true {
            guard index < stream.count else { throw .incomplete }
            switch stream[index] {
            case 13:
                guard index + 1 < stream.count else { throw .incomplete }
                guard stream[index + 1] == 10 else { throw fail(.bareCarriageReturn, index) }
                return Array(stream[(start + 1)..<index])
            case 10:
                throw fail(.bareLineFeed, index)
            default:
                if index - start - 1 >= limits.maximumLineLength { throw fail(.lineTooLong, index) }
                index += 1
            }
        }
    }

    private func bulk(_ type: Character, header: [UInt8], start: Int, at index: inout Int) throws(Stop) -> RESPValue {
        guard let length = Self.length(header) else { throw fail(.malformedLength, start) }
        if length == -1 {
            guard type == "$" else { throw fail(.malformedLength, start) }
            return .bulkString(nil)
        }
        guard length <= limits.maximumBulkLength else { throw fail(.bulkTooLong(length), start) }
        guard index + length + 2 <= stream.count else { throw .incomplete }
        let payload = Array(stream[index..<(index + length)])
        guard stream[index + length] == 13, stream[index + length + 1] == 10 else {
            throw fail(.missingTerminator, index + length)
        }
        index += length + 2
        switch type {
        case "$": return .bulkString(payload)
        case "!": return .bulkError(payload)
        default:
            guard payload.count >= 4, payload[3] == UInt8(ascii: ":") else { throw fail(.malformedValue, start) }
            return .verbatimString(format: Array(payload[0..<3]), text: Array(payload[4...]))
        }
    }

    private func aggregate(
        _ type: Character, header: [UInt8], start: Int, at index: inout Int, depth: Int
    ) throws(Stop) -> RESPValue {
        guard let count = Self.length(header), count >= 0 || type == "*" else { throw fail(.malformedLength, start) }
        guard depth + 1 <= limits.maximumDepth else { throw fail(.nestedTooDeep, start) }
        let elementCount = type == "%" ? (count > Int.max / 2 ? Int.max : 2 * count) : count
        guard elementCount <= limits.maximumAggregateCount else { throw fail(.aggregateTooLong(elementCount), start) }
        if count == -1 { return .array(nil) }
        var elements: [RESPValue] = []
        for _ in 0..<elementCount { elements.append(try value(at: &index, depth: depth + 1)) }
        switch type {
        case "*": return .array(elements)
        case "%": return .map(elements)
        case "~": return .set(elements)
        default: return .push(elements)
        }
    }

    /// `-1`, or digits (Int.max when they do not fit); nil otherwise.
    private static func length(_ text: [UInt8]) -> Int? {
        if text == Array("-1".utf8) { return -1 }
        guard !text.isEmpty, text.allSatisfy({ (48...57).contains($0) }) else { return nil }
        return Int(String(decoding: text, as: UTF8.self)) ?? .max
    }

    private func fail(_ kind: RESPProtocolError.Kind, _ offset: Int) -> Stop {
        .failed(RESPProtocolError(kind, at: offset))
    }
}

/// The real decoder fed `reads` one after another, as a connection would: what it did not
/// consume stays at the front, the next read goes after it.
struct RESPStreamDecoder {
    var decoder: RESPDecoder
    private(set) var values: [RESPValue] = []
    private(set) var failure: RESPProtocolError?
    /// Received and not yet consumed.
    private(set) var unconsumed: [UInt8] = []
    /// Aggregates being assembled, innermost last: the header and the elements so far.
    private var open: [(header: RESPElement, elements: [RESPValue], expected: Int)] = []
    /// Called with every element and the window it came from, for checks of its own.
    var inspect: ((RESPElement, UnsafeRawBufferPointer) -> Void)?

    init(limits: RESPLimits = .standard) {
        decoder = RESPDecoder(limits: limits)
    }

    static func decode(_ reads: [[UInt8]], limits: RESPLimits = .standard) -> (values: [RESPValue], end: RESPStreamEnd) {
        var stream = RESPStreamDecoder(limits: limits)
        for read in reads { stream.receive(read) }
        return (stream.values, stream.end)
    }

    var end: RESPStreamEnd {
        if let failure { return .failed(failure) }
        return unconsumed.isEmpty && decoder.depth == 0 ? .complete : .incomplete
    }

    mutating func receive(_ read: [UInt8]) {
        guard failure == nil else { return }
        unconsumed += read
        var position = 0
        unconsumed.withUnsafeBytes { window in
            do throws(RESPProtocolError) {
                while let element = try decoder.next(in: window, position: &position) {
                    inspect?(element, window)
                    add(element)
                }
            } catch {
                failure = error
            }
        }
        unconsumed.removeFirst(position)
    }

    private mutating func add(_ element: RESPElement) {
        func bytes(_ buffer: UnsafeRawBufferPointer) -> [UInt8] { Array(buffer) }
        let value: RESPValue
        switch element {
        case .simpleString(let text): value = .simpleString(bytes(text))
        case .error(let text): value = .error(bytes(text))
        case .integer(let number): value = .integer(number)
        case .bulkString(let payload): value = .bulkString(payload.map(bytes))
        case .null: value = .null
        case .boolean(let flag): value = .boolean(flag)
        case .double(let text): value = .double(bytes(text))
        case .bigNumber(let text): value = .bigNumber(bytes(text))
        case .bulkError(let text): value = .bulkError(bytes(text))
        case .verbatimString(let format, let text): value = .verbatimString(format: bytes(format), text: bytes(text))
        case .array(nil): value = .array(nil)
        case .array(let count?) where count > 0, .set(let count) where count > 0, .push(let count) where count > 0:
            open.append((element, [], count))
            return
        case .map(let count) where count > 0:
            open.append((element, [], 2 * count))
            return
        case .array, .set, .push, .map:
            value = Self.close(element, [])
        }
        complete(value)
    }

    /// A value is whole: it joins the aggregate around it, closing those it fills.
    private mutating func complete(_ value: RESPValue) {
        var value = value
        while !open.isEmpty {
            open[open.count - 1].elements.append(value)
            guard open[open.count - 1].elements.count == open[open.count - 1].expected else { return }
            let finished = open.removeLast()
            value = Self.close(finished.header, finished.elements)
        }
        values.append(value)
    }

    private static func close(_ header: RESPElement, _ elements: [RESPValue]) -> RESPValue {
        switch header {
        case .map: .map(elements)
        case .set: .set(elements)
        case .push: .push(elements)
        default: .array(elements)
        }
    }
}
