// JSONWriter: the few JSON shapes --json needs, written without Foundation.

struct JSONWriter {
    private(set) var text = ""
    private var needsComma = false

    static func escape(_ string: String) -> String {
        var escaped = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return escaped + "\""
    }

    private mutating func key(_ name: String) {
        if needsComma { text += "," }
        text += JSONWriter.escape(name) + ":"
        needsComma = true
    }

    mutating func object(_ body: (inout JSONWriter) -> Void) {
        text += "{"
        let outer = needsComma
        needsComma = false
        body(&self)
        text += "}"
        needsComma = outer
    }

    mutating func field(_ name: String, _ value: String) { key(name); text += JSONWriter.escape(value) }
    mutating func field(_ name: String, _ value: Bool) { key(name); text += value ? "true" : "false" }
    mutating func field(_ name: String, _ value: Int) { key(name); text += String(value) }
    mutating func field(_ name: String, _ value: UInt64) { key(name); text += String(value) }
    mutating func field(_ name: String, _ value: Double) {
        key(name)
        text += value.isFinite ? formatFixed(value, digits: 3) : "null"
    }
    mutating func field(_ name: String, _ value: Double?) {
        if let value { field(name, value) } else { key(name); text += "null" }
    }
    mutating func field(_ name: String, _ values: [String]) {
        key(name)
        text += "[" + values.map(JSONWriter.escape).joined(separator: ",") + "]"
    }
    mutating func field(_ name: String, object body: (inout JSONWriter) -> Void) {
        key(name)
        object(body)
    }
}
