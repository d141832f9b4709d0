// Reads a configuration file into a string, with errors that name the file and errno's text.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

enum SourceFile {
    /// The contents of `path`, which must be UTF-8.
    static func contents(of path: String) throws(ConfigurationError) -> String {
        let bytes = try readBytes(path)
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        throw invalidUTF8Error(bytes, file: path)
    }

    private static func readBytes(_ path: String) throws(ConfigurationError) -> [UInt8] {
        func failure(_ code: Int32) -> ConfigurationError {
            ConfigurationError(file: path, line: 0, column: 0, message: "cannot read \(path): \(String(cString: strerror(code)))")
        }
        var descriptor: Int32
        repeat { descriptor = open(path, O_RDONLY | O_CLOEXEC) } while descriptor < 0 && errno == EINTR
        guard descriptor >= 0 else { throw failure(errno) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { return bytes }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure(errno)  // EISDIR for a directory
            }
            bytes += chunk[..<count]
        }
    }

    /// Points at the first byte that is not part of valid UTF-8, counting columns in scalars as
    /// the parser does.
    private static func invalidUTF8Error(_ bytes: [UInt8], file: String) -> ConfigurationError {
        var line = 1
        var column = 1
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                offset += encoded.count
                if encoded.count == 1 && encoded.first == UInt8(ascii: "\n") {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            case .error:
                let byte = bytes[offset]
                return ConfigurationError(
                    file: file, line: line, column: column,
                    message: "invalid UTF-8 (byte 0x\(hexDigits(UInt32(byte), width: 2, uppercase: true)))")
            case .emptyInput:
                return ConfigurationError(file: file, line: line, column: column, message: "invalid UTF-8")
            }
        }
    }
}
