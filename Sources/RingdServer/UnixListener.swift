// Unix-domain listeners: `unix:/PATH` in server.listen.
//
// A socket file outlives the process that made it: a ringd killed with SIGKILL leaves one
// behind, and bind(2) then fails with EADDRINUSE although nobody listens. So before binding,
// ringd probes the path with a connect(2): refused means the file is stale and is replaced; a
// connection (or a full backlog) means another process accepts there, and ringd stops with an
// error naming the path. A file that is not a socket is never removed.
//
// The file's permissions are set between bind(2) and listen(2), when a connect is refused
// anyway, so there is no moment when it is open to more users than `server.unix_mode` allows.
// On a clean exit ringd removes the file, if it is still the one it made (same device and inode).

import RingdConfig
import RingdSystem
import URing

#if canImport(Glibc)
    import Glibc
#endif

/// The socket file of a Unix listener: its path, and which file it was when ringd made it.
struct UnixSocketFile: Sendable {
    let path: String
    let device: UInt64
    let inode: UInt64

    /// The file at `path` as it is now; nil when it cannot be read.
    init?(path: String) {
        var status = stat()
        guard lstat(path, &status) == 0 else { return nil }
        self.path = path
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
    }

    /// Unlinks the file, unless it has been replaced since (by another ringd, or by hand).
    func removeIfStillOurs() {
        guard let now = UnixSocketFile(path: path), now.device == device, now.inode == inode else { return }
        _ = unlink(path)
    }
}

extension ListenerFactory {
    /// One socket listening at `address`'s path, with `mode`; a stale socket file there is
    /// replaced first.
    static func bindUnix(
        _ address: ListenAddress, backlog: Int, mode: FileMode
    ) throws(SystemError)
        -> (ListeningSocket, UnixSocketFile)
    {
        let target = try SocketAddress(address)
        let (descriptor, file) = try listenUnix(
            at: address.path, type: SOCK_STREAM, backlog: backlog, mode: mode, text: address.description,
            modeKey: "server.unix_mode")
        return (ListeningSocket(descriptor: descriptor, address: target), file)
    }

    /// A Unix socket of `type` listening at `path` with `mode`, after replacing a stale file
    /// there; its descriptor and the file. `modeKey` names where the mode came from in errors.
    static func listenUnix(
        at path: String, type: __socket_type, backlog: Int, mode: FileMode, text: String, modeKey: String
    ) throws(SystemError) -> (Int32, UnixSocketFile) {
        guard let target = SocketAddress(unixPath: path) else { throw SystemError("bind", errno: ENAMETOOLONG, context: text) }
        try removeStaleSocketFile(at: path, type: type, text: text)
        let descriptor = socket(AF_UNIX, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if descriptor < 0 { throw SystemError("socket", errno: errno, context: text) }
        do throws(SystemError) {
            if target.withSockaddr({ Glibc.bind(descriptor, $0, $1) }) != 0 {
                throw SystemError("bind", errno: errno, context: text)
            }
            guard let file = UnixSocketFile(path: path) else { throw SystemError("lstat", errno: errno, context: text) }
            do throws(SystemError) {
                if chmod(path, mode_t(mode.bits)) != 0 {
                    throw SystemError("chmod", errno: errno, context: "\(text) to \(modeKey) \(mode.octal)")
                }
                if Glibc.listen(descriptor, Int32(clamping: backlog)) != 0 {
                    throw SystemError("listen", errno: errno, context: text)
                }
            } catch {
                file.removeIfStillOurs()
                throw error
            }
            return (descriptor, file)
        } catch {
            _ = Glibc.close(descriptor)
            throw error
        }
    }

    /// Removes the socket file at `path` when nobody accepts on it; throws, naming the path,
    /// when somebody does or when the file is not a socket.
    private static func removeStaleSocketFile(at path: String, type: __socket_type, text: String) throws(SystemError) {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }  // nothing there (or bind says why)
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            throw SystemError(
                "bind", errno: EEXIST, context: "\(text): the file exists and is not a socket; ringd replaces only a stale socket"
            )
        }
        switch probe(path, type: type) {
        case 0, EAGAIN, EPROTOTYPE:  // EPROTOTYPE: a live socket of another type
            throw SystemError("bind", errno: EADDRINUSE, context: "\(text): another process accepts connections there")
        case ECONNREFUSED:
            if unlink(path) != 0 && errno != ENOENT {
                throw SystemError("unlink", errno: errno, context: "\(text): the stale socket file")
            }
        case ENOENT:
            return  // removed meanwhile
        case let failure:
            throw SystemError(
                "connect", errno: failure, context: "\(text): cannot tell whether another process accepts connections there")
        }
    }

    /// Connects to the socket at `path` without waiting: 0 when somebody accepts, EAGAIN when
    /// somebody listens with a full backlog, ECONNREFUSED when nobody listens, or the errno.
    private static func probe(_ path: String, type: __socket_type) -> Int32 {
        guard let address = SocketAddress(unixPath: path) else { return ENAMETOOLONG }
        let descriptor = socket(AF_UNIX, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard descriptor >= 0 else { return errno }
        defer { _ = Glibc.close(descriptor) }
        while true {
            if address.withSockaddr({ connect(descriptor, $0, $1) }) == 0 { return 0 }
            if errno != EINTR { return errno }
        }
    }
}
