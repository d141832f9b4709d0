// libFuzzer entry point for ringd's configuration parser: libFuzzer's bytes become a
// configuration file and `--set` overrides, and every promise in ParseInvariants
// (Tests/RingdConfigTests/Support) must hold for them; a broken one aborts, which libFuzzer
// records as a crash with the input that caused it. Built and run by `tools/fuzz/run.sh config`
// with `swiftc -O -sanitize=fuzzer` (and `address`); it is not a SwiftPM target, so `swift build`
// never sees it.
//
// An input is the file, then "\n--set " before each override: "[io]\nbuffer_size = 1\n--set
// server.mode=echo" is a file of two lines and one override. The file is parsed in memory; a file
// that is not UTF-8 is also written to a scratch file and read through
// `Configuration.load(file:)`, the only path that reports it. Overrides are decoded with
// replacement, as the command line decodes its arguments, and read a second time all together
// without the file (`OverrideReading.together`), one parse rather than one each.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RingdConfig

/// Where a file that is not UTF-8 is written to be loaded: `RINGD_FUZZ_SCRATCH`, or a file in /tmp.
private let scratchPath: String = {
    if let path = getenv("RINGD_FUZZ_SCRATCH") { return String(cString: path) }
    return "/tmp/ringd-config-fuzz-\(getpid()).toml"
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    let parts = split(bytes, at: Array("\n--set ".utf8))
    let overrides = parts.dropFirst().map { String(decoding: $0, as: UTF8.self) }
    var violations: [String] = []
    if let document = String(validating: parts[0], as: UTF8.self) {
        violations = ParseInvariants.violations(document: document, overrides: overrides, reading: .together)
    } else {
        violations = ParseInvariants.invalidUTF8Violations(parts[0], scratchPath: scratchPath)
        violations += ParseInvariants.violations(
            document: String(decoding: parts[0], as: UTF8.self), overrides: overrides, reading: .together)
    }
    guard violations.isEmpty else {
        fputs("ringd config fuzzer: broken promise:\n  " + violations.joined(separator: "\n  ") + "\n", stderr)
        abort()
    }
    return 0
}

/// `bytes` cut at every occurrence of `separator`, which is dropped; always at least one part.
private func split(_ bytes: [UInt8], at separator: [UInt8]) -> [[UInt8]] {
    var parts: [[UInt8]] = []
    var start = 0
    var index = 0
    while index + separator.count <= bytes.count {
        if bytes[index..<(index + separator.count)].elementsEqual(separator) {
            parts.append(Array(bytes[start..<index]))
            index += separator.count
            start = index
        } else {
            index += 1
        }
    }
    parts.append(Array(bytes[start...]))
    return parts
}
