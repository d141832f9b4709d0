// An address to listen on: `HOST:PORT`, where HOST is a numeric IPv4 or IPv6 address, or
// `unix:/PATH`, a Unix-domain socket.
//
// Names are not resolved: a configuration that says where to listen should not depend on DNS.
// inet_pton(3) decides what an address is, and inet_ntop(3) writes it back in canonical form, so
// "[0:0::1]:7000" and "[::1]:7000" are the same address. A Unix socket's path must be absolute,
// so that it names the same file whatever directory ringd was started from (a hand-over
// matches listeners by it), and fit a sockaddr_un (107 bytes).

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Family: Sendable, Hashable {
        case ipv4, ipv6, unix
    }

    /// The address in canonical form, without brackets: "127.0.0.1", "::1"; "" for `.unix`.
    public var host: String
    /// 0 asks the kernel for an ephemeral port (one port, shared by all workers); 0 for `.unix`.
    public var port: UInt16
    public var family: Family
    /// The socket file's absolute path for `.unix`; "" otherwise.
    public var path: String

    /// The prefix that marks a Unix-domain socket's path.
    public static let unixPrefix = "unix:"
    /// The longest Unix socket path, in bytes: sockaddr_un's 108 less the terminating NUL.
    public static let maximumPathLength = 107

    /// Parses "127.0.0.1:0", "[::1]:7000", "0.0.0.0:80" or "unix:/run/ringd/echo.sock".
    public init(parsing text: String) throws(ListenAddressError) {
        path = ""
        if text.hasPrefix(Self.unixPrefix) {
            let path = String(text.dropFirst(Self.unixPrefix.count))
            guard path.hasPrefix("/") else { throw .relativeUnixPath(path) }
            guard path.utf8.count <= Self.maximumPathLength else { throw .unixPathTooLong(path.utf8.count) }
            guard !path.utf8.contains(0) else { throw .nulInUnixPath }
            self.path = path
            host = ""
            port = 0
            family = .unix
            return
        }
        let hostText: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .missingPort(text) }
            hostText = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw .missingPort(text) }
            portText = rest.dropFirst()
            guard let canonical = Self.canonicalHost(String(hostText), family: AF_INET6) else {
                throw .invalidHost(String(hostText))
            }
            host = canonical
            family = .ipv6
        } else {
            let colons = text.filter { $0 == ":" }.count
            guard colons > 0 else { throw .missingPort(text) }
            guard colons == 1 else { throw .unbracketedIPv6(text) }
            let colon = text.firstIndex(of: ":")!
            hostText = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard let canonical = Self.canonicalHost(String(hostText), family: AF_INET) else {
                throw .invalidHost(String(hostText))
            }
            host = canonical
            family = .ipv4
        }
        guard portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
            portText == "0" || portText.first != "0",
            let port = UInt16(portText)
        else { throw .invalidPort(String(portText)) }
        self.port = port
    }

    /// "127.0.0.1:7000", "[::1]:7000" or "unix:/run/ringd/echo.sock"; parses back to the same
    /// address.
    public var description: String {
        switch family {
        case .ipv4: "\(host):\(port)"
        case .ipv6: "[\(host)]:\(port)"
        case .unix: Self.unixPrefix + path
        }
    }

    /// `host` as inet_ntop(3) writes it, or nil when inet_pton(3) does not take it as an address
    /// of `family`.
    private static func canonicalHost(_ host: String, family: Int32) -> String? {
        var address = in6_addr()  // large enough for either family
        guard inet_pton(family, host, &address) == 1 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(family, &address, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Why a text is not a listen address.
public enum ListenAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text has no `:PORT`.
    case missingPort(String)
    /// The port is not a decimal number 0...65535.
    case invalidPort(String)
    /// The host is not a numeric IPv4 or IPv6 address.
    case invalidHost(String)
    /// An IPv6 address without the brackets that separate it from the port.
    case unbracketedIPv6(String)
    /// `unix:` followed by a path that does not start with "/".
    case relativeUnixPath(String)
    /// `unix:` followed by a path of this many bytes, more than a sockaddr_un holds.
    case unixPathTooLong(Int)
    /// `unix:` followed by a path with a NUL byte.
    case nulInUnixPath

    public var description: String {
        switch self {
        case .missingPort:
            "expected HOST:PORT or unix:/PATH, such as 127.0.0.1:7000, [::1]:7000 or unix:/run/ringd/echo.sock"
        case .invalidPort(let port):
            "port '\(port)' is not a number 0...65535"
        case .invalidHost(let host):
            "host '\(host)' is not an IPv4 or IPv6 address (names are not resolved)"
        case .unbracketedIPv6:
            "an IPv6 address is written in brackets before the port, as in [::1]:7000"
        case .relativeUnixPath(let path):
            "the Unix socket path '\(path)' is not absolute: write unix:/PATH, such as unix:/run/ringd/echo.sock"
        case .unixPathTooLong(let count):
            "the Unix socket path is \(count) bytes long; a Unix socket's path holds at most \(ListenAddress.maximumPathLength)"
        case .nulInUnixPath:
            "the Unix socket path holds a NUL byte"
        }
    }
}
