// The lexical side of TOML-lite: which characters make keys and numbers, and the grammar of TOML
// numbers, enough to read integers and to recognise floats, dates and times as unsupported.

/// TOML's number grammar, used on the whole token so that `1.5` is reported as a float rather
/// than as an integer followed by junk.
enum NumberSyntax {
    enum Failure: Error {
        case dateOrTime, float, signedPrefix, notDigits, unitValue, misplacedUnderscore, leadingZero, overflow
    }

    /// Reads a token of number characters (digits, letters, `_ + - . :`) as a TOML integer:
    /// decimal with an optional sign, or 0x, 0o, 0b without one. Says what else it looks like when
    /// it is not one.
    static func integer(_ token: [Unicode.Scalar]) throws(Failure) -> Int {
        if isDateOrTime(token) { throw .dateOrTime }
        let isNegative = token.first == "-"
        let unsigned = token.first == "+" || isNegative ? token.dropFirst() : token[...]
        if unsigned.elementsEqual("inf".unicodeScalars) || unsigned.elementsEqual("nan".unicodeScalars) || isFloat(token) {
            throw .float
        }
        if unsigned.count >= 2, unsigned.first == "0", let radix = radix(prefix: unsigned[unsigned.startIndex + 1]) {
            guard unsigned.count == token.count else { throw .signedPrefix }
            return try integer(digits: unsigned.dropFirst(2), radix: radix, negative: false)
        }
        do {
            return try integer(digits: unsigned, radix: 10, negative: isNegative)
        } catch .notDigits where looksLikeUnitValue(unsigned) {
            throw .unitValue
        }
    }

    /// Digits of `radix` with single underscores between them, as a 64-bit integer.
    private static func integer(digits: ArraySlice<Unicode.Scalar>, radix: Int, negative: Bool) throws(Failure) -> Int {
        guard !digits.isEmpty, digits.allSatisfy({ $0 == "_" || $0.digitValue(radix: radix) != nil }) else {
            throw .notDigits
        }
        let separated = Array(digits)
        for (offset, scalar) in separated.enumerated() where scalar == "_" {
            let between =
                offset > 0 && offset < separated.count - 1
                && separated[offset - 1] != "_" && separated[offset + 1] != "_"
            guard between else { throw .misplacedUnderscore }
        }
        if radix == 10, separated.count > 1, separated[0] == "0" { throw .leadingZero }
        var value = 0
        for scalar in separated where scalar != "_" {
            let digit = scalar.digitValue(radix: radix)!
            let (shifted, overflowMultiplying) = value.multipliedReportingOverflow(by: radix)
            let (next, overflowAdding) =
                negative
                ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            guard !overflowMultiplying, !overflowAdding else { throw .overflow }
            value = next
        }
        return value
    }

    private static func radix(prefix: Unicode.Scalar) -> Int? {
        switch prefix {
        case "x": 16
        case "o": 8
        case "b": 2
        default: nil
        }
    }

    /// `1979-05-27...` or `07:32...`: the start of a TOML date, date-time or time.
    private static func isDateOrTime(_ token: [Unicode.Scalar]) -> Bool {
        func digits(_ count: Int) -> Bool {
            token.count > count && token[..<count].allSatisfy { $0.digitValue(radix: 10) != nil }
        }
        return (digits(4) && token[4] == "-") || (digits(2) && token[2] == ":")
    }

    /// A TOML float: a decimal integer part, then a fraction, an exponent or both.
    private static func isFloat(_ token: [Unicode.Scalar]) -> Bool {
        var index = 0
        if index < token.count, token[index] == "+" || token[index] == "-" { index += 1 }
        if index < token.count, token[index] == "0" {
            index += 1
        } else {
            guard let end = digitRun(token, from: index) else { return false }
            index = end
        }
        var hasFraction = false
        if index < token.count, token[index] == "." {
            guard let end = digitRun(token, from: index + 1) else { return false }
            index = end
            hasFraction = true
        }
        var hasExponent = false
        if index < token.count, token[index] == "e" || token[index] == "E" {
            index += 1
            if index < token.count, token[index] == "+" || token[index] == "-" { index += 1 }
            guard let end = digitRun(token, from: index) else { return false }
            index = end
            hasExponent = true
        }
        return index == token.count && (hasFraction || hasExponent)
    }

    /// The end of `digit (_? digit)*` starting at `start`, or nil when there is no digit there.
    private static func digitRun(_ token: [Unicode.Scalar], from start: Int) -> Int? {
        var index = start
        guard index < token.count, token[index].digitValue(radix: 10) != nil else { return nil }
        index += 1
        while index < token.count {
            if token[index].digitValue(radix: 10) != nil {
                index += 1
            } else if token[index] == "_", index + 1 < token.count, token[index + 1].digitValue(radix: 10) != nil {
                index += 2
            } else {
                break
            }
        }
        return index
    }

    /// `4KiB`, `250ms`: digits followed by letters, a size or a duration someone forgot to quote.
    private static func looksLikeUnitValue(_ token: ArraySlice<Unicode.Scalar>) -> Bool {
        guard let firstLetter = token.firstIndex(where: { $0.properties.isAlphabetic }) else { return false }
        return firstLetter > token.startIndex
            && token[..<firstLetter].allSatisfy { $0.digitValue(radix: 10) != nil }
            && token[firstLetter...].allSatisfy { $0.properties.isAlphabetic }
    }
}

extension TOMLValue {
    /// Whether two values may share an array in TOML-lite.
    func hasSameKind(as other: TOMLValue) -> Bool {
        switch (self, other) {
        case (.string, .string), (.integer, .integer), (.boolean, .boolean), (.array, .array): true
        default: false
        }
    }
}

extension Unicode.Scalar {
    /// `A-Z a-z 0-9 _ -`
    var isBareKeyCharacter: Bool {
        switch self {
        case "A"..."Z", "a"..."z", "0"..."9", "_", "-": true
        default: false
        }
    }

    /// What a number, date or time token may contain; the token is classified afterwards.
    var isNumberTokenCharacter: Bool {
        isBareKeyCharacter || self == "+" || self == "." || self == ":"
    }

    /// Control characters other than tab, which TOML allows neither in strings nor in comments.
    var isForbiddenControl: Bool {
        (value < 0x20 && self != "\t") || value == 0x7F
    }

    /// `U+000D`
    var codePoint: String { "U+" + hexDigits(value, width: 4, uppercase: true) }

    func digitValue(radix: Int) -> Int? {
        let digit: Int
        switch self {
        case "0"..."9": digit = Int(value - 48)
        case "a"..."z": digit = Int(value - 97) + 10
        case "A"..."Z": digit = Int(value - 65) + 10
        default: return nil
        }
        return digit < radix ? digit : nil
    }
}
