// StartupError: why ringd could not start or had to stop, worded with the cause and the fix, from
// the system call that failed.

import RingdConfig
import URing

#if canImport(Glibc)
    import Glibc
#endif

/// Why ringd could not start or had to stop, in words that name the cause and the fix.
public struct StartupError: Error, CustomStringConvertible, Sendable {
    public let message: String

    public init(message: String) { self.message = message }

    init(_ error: SystemError) {
        switch (error.call, error.errno) {
        case ("io_uring_setup", EPERM):
            message =
                "io_uring is not available: \(error). "
                + "It is disabled by the sysctl kernel.io_uring_disabled (now \(Self.ioUringDisabledSetting())) "
                + "or blocked by a seccomp filter, as many container runtimes install. "
                + "Fix: `sysctl -w kernel.io_uring_disabled=0`, or run ringd under a seccomp profile that "
                + "allows io_uring_setup, io_uring_enter and io_uring_register."
        case ("io_uring_setup", ENOSYS):
            message =
                "io_uring is not available: \(error). The kernel was built without io_uring "
                + "(CONFIG_IO_URING) or a seccomp filter hides it. Fix: run on Linux 6.1 or later with io_uring enabled."
        case ("io_uring_setup", ENOMEM):
            message =
                "io_uring is not available: \(error). The ring could not be allocated; on kernels before 5.12 this is "
                + "the locked-memory limit. Fix: raise `ulimit -l`, or lower io.submission_entries and io.completion_entries."
        case ("io_uring_register_buf_ring", _), ("io_uring probe", _):
            message = "io_uring lacks a feature ringd needs: \(error). Fix: run on Linux 6.1 or later."
        case ("bind", EADDRINUSE) where error.context.hasPrefix(ListenAddress.unixPrefix):
            message = "cannot listen: \(error). Fix: stop the other server or choose another path with --listen."
        case ("bind", EADDRINUSE):
            message = "cannot listen: \(error). Fix: stop the other server or choose another port with --listen."
        case ("bind", ENOENT),
            ("bind", EACCES) where error.context.hasPrefix(ListenAddress.unixPrefix):
            message = "cannot listen: \(error). Fix: create the socket's directory, writable by the user ringd runs as."
        case ("bind", EACCES):
            message = "cannot listen: \(error). Ports below 1024 need root or CAP_NET_BIND_SERVICE."
        case ("mmap", _):
            message = "cannot allocate memory: \(error). Fix: lower server.max_connections or io.buffer_count."
        default:
            message = "\(error)"
        }
    }

    public var description: String { message }

    private static func ioUringDisabledSetting() -> String {
        let descriptor = open("/proc/sys/kernel/io_uring_disabled", O_RDONLY)
        guard descriptor >= 0 else { return "unknown" }
        defer { _ = close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 16)
        let count = read(descriptor, &bytes, bytes.count)
        guard count > 0 else { return "unknown" }
        return String(decoding: bytes[..<count], as: UTF8.self).trimmingTrailingNewline()
    }
}

extension String {
    fileprivate func trimmingTrailingNewline() -> String {
        var text = self
        while text.last == "\n" { text.removeLast() }
        return text
    }
}
