// Where ringd finds Redis (or Valkey) for `[cluster] redis`: a numeric `HOST:PORT`, as
// `server.listen` takes it, or `unix:/path` for a Unix domain socket.
//
// Names are not resolved, as for the listen addresses: a worker connects again after every
// fault, and a resolver that hangs would hold up the clients it serves meanwhile.

public enum RedisAddress: Sendable, Hashable, CustomStringConvertible {
    case tcp(ListenAddress)
    /// An absolute path of at most 107 bytes (sun_path holds 108 with its terminating zero).
    case unix(path: String)

    public static let unixPrefix = "unix:"
    public static let maximumPathBytes = 107

    /// Parses "127.0.0.1:6379", "[::1]:6379" or "unix:/run/redis/redis.sock".
    public init(parsing text: String) throws(RedisAddressError) {
        if text.hasPrefix(Self.unixPrefix) {
            let path = String(text.dropFirst(Self.unixPrefix.count))
            guard path.hasPrefix("/") else { throw .relativePath(path) }
            guard path.utf8.count <= Self.maximumPathBytes else { throw .pathTooLong(path.utf8.count) }
            guard !path.utf8.contains(0) else { throw .zeroByte }
            self = .unix(path: path)
            return
        }
        let address: ListenAddress
        do {
            address = try ListenAddress(parsing: text)
        } catch {
            throw .address(error)
        }
        guard address.port != 0 else { throw .portZero }
        self = .tcp(address)
    }

    public var description: String {
        switch self {
        case .tcp(let address): address.description
        case .unix(let path): Self.unixPrefix + path
        }
    }
}

public enum RedisAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    case address(ListenAddressError)
    case portZero
    case relativePath(String)
    case pathTooLong(Int)
    case zeroByte

    public var description: String {
        switch self {
        case .address(let error): "\(error)"
        case .portZero: "port 0 names no server: give Redis's port (6379 by default)"
        case .relativePath(let path): "'\(path)' is not an absolute path: expected unix:/path/to/redis.sock"
        case .pathTooLong(let bytes):
            "the socket path has \(bytes) bytes, over the \(RedisAddress.maximumPathBytes) a Unix socket address holds"
        case .zeroByte: "the socket path contains a zero byte"
        }
    }
}
