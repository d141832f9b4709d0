// Room for Unix socket files: a fresh directory per test, short enough for a sockaddr_un's 107
// bytes, removed with everything in it when the test is done; and sockets a test binds there
// itself, to stand for another process (listening) or for one that died (a stale file).
import Foundation
import Glibc
import TestSupport

final class UnixSocketDirectory {
    let path: String

    init() throws {
        path = "/tmp/ringd-test-\(UUID().uuidString.prefix(8))"
        guard mkdir(path, 0o700) == 0 else { throw HarnessFailure("mkdir \(path): \(errnoName(errno))") }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// `name` inside the directory.
    func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Whether anything is at `name`.
    func exists(_ name: String) -> Bool {
        var status = stat()
        return lstat(file(name), &status) == 0
    }

    /// The permission bits of `name`, such as 0o660.
    func permissions(of name: String) throws -> UInt32 {
        var status = stat()
        guard lstat(file(name), &status) == 0 else { throw HarnessFailure("lstat \(file(name)): \(errnoName(errno))") }
        return UInt32(status.st_mode) & 0o7777
    }
}

/// A Unix stream socket the test binds at `path`: listening, it stands for another server that
/// accepts there; closed without unlinking, it leaves the stale file a killed server leaves.
final class TestUnixListener {
    let descriptor: Int32
    private var isClosed = false

    init(path: String, listening: Bool) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessFailure("socket(AF_UNIX): \(errnoName(errno))") }
        let bound = try Endpoint(unixPath: path).withSocketAddress { bind(descriptor, $0, $1) }
        guard bound == 0 else { throw HarnessFailure("bind \(path): \(errnoName(errno))") }
        if listening {
            guard listen(descriptor, 16) == 0 else { throw HarnessFailure("listen \(path): \(errnoName(errno))") }
        }
    }

    /// Leaves the socket file behind, as a process that died would.
    static func leaveStaleFile(at path: String) throws {
        try TestUnixListener(path: path, listening: true).close()
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(descriptor)
    }

    deinit { close() }
}
