// Stands in for systemd's end of sd_notify(3): a datagram socket, bound to a path or to an
// abstract name, whose name a test hands ringd as $NOTIFY_SOCKET. Each datagram is one message
// of `KEY=VALUE` lines.
import Foundation
import Glibc
import TestSupport

final class NotifyListener {
    let descriptor: Int32
    /// What $NOTIFY_SOCKET says: the path, or `@name` for an abstract one.
    let name: String
    private let path: String?
    /// Every message received so far, in order.
    private(set) var messages: [String] = []

    /// A socket at a fresh path in the temporary directory, or a fresh abstract name.
    init(abstract: Bool) throws {
        let unique = "ringd-notify-\(UUID().uuidString.prefix(8))"
        path = abstract ? nil : FileManager.default.temporaryDirectory.appendingPathComponent(unique).path
        name = path ?? "@\(unique)"
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessFailure("socket(AF_UNIX): \(errnoName(errno))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else {
            close(descriptor)
            throw HarnessFailure("bind \(name): \(errnoName(errno))")
        }
    }

    deinit {
        close(descriptor)
        if let path { unlink(path) }
    }

    /// The environment that points ringd here, for `/usr/bin/env` in front of it.
    func launcher(watchdog: Duration? = nil) -> [String] {
        var launcher = ["/usr/bin/env", "NOTIFY_SOCKET=\(name)"]
        if let watchdog {
            launcher.append(
                "WATCHDOG_USEC=\(watchdog.components.seconds * 1_000_000 + watchdog.components.attoseconds / 1_000_000_000_000)")
        }
        return launcher
    }

    /// Waits for the next message, at most `timeout`; nil if none came.
    func next(within timeout: Duration = .seconds(20)) throws -> String? {
        var descriptors = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let deadline = Deadline(after: timeout)
        while true {
            let ready = poll(&descriptors, 1, deadline.remainingMilliseconds)
            if ready > 0 { break }
            if ready < 0 && errno != EINTR { throw HarnessFailure("poll: \(errnoName(errno))") }
            if deadline.hasPassed { return nil }
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        guard count >= 0 else { throw HarnessFailure("recv: \(errnoName(errno))") }
        let message = String(decoding: buffer[..<count], as: UTF8.self)
        messages.append(message)
        return message
    }

    /// Waits for a message that satisfies `condition`, keeping the others in `messages`.
    func waitFor(_ what: String, within timeout: Duration = .seconds(20), _ condition: (String) -> Bool) throws -> String {
        let deadline = Deadline(after: timeout)
        while let message = try next(within: .milliseconds(Int64(max(1, deadline.remainingMilliseconds)))) {
            if condition(message) { return message }
        }
        throw HarnessFailure("no \(what) from ringd within \(timeout); received:\n\(messages.joined(separator: "--\n"))")
    }
}
