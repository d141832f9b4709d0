// Takeover: the new process's side of a hand-over (`ringd --takeover PATH`; the messages are in
// ControlChannel.swift). It takes the running ringd's listening sockets before binding anything,
// adopts every one that listens on an address of its own configuration (all of a TCP address's
// SO_REUSEPORT sockets, however many workers either process has: a socket closed with
// connections in its queue would reset them), closes the others, and, once its own workers
// run, tells the old process `ready` and waits for `released`.
//
// Until `ready` the old process serves as before, so every error here ends this process alone,
// with a StartupError that names the cause, and leaves the old one serving.

import CLinux
import RingdConfig
import RingdSystem
import URing

#if canImport(Glibc)
    import Glibc
#endif

final class Takeover {
    let path: String
    private let connection: ControlConnection
    /// The old process's listening sockets in the order it sent them; nil once adopted or closed.
    private var offered: [ListeningSocket?]
    private var kept: [Int] = []
    /// The old process said `released`: the adopted sockets and their files are this process's.
    private(set) var isCommitted = false

    /// How long the old process may take to answer.
    static let answerTimeout: Duration = .seconds(30)

    private init(path: String, connection: ControlConnection, offered: [ListeningSocket?]) {
        self.path = path
        self.connection = connection
        self.offered = offered
    }

    deinit { closeUnadopted() }

    /// Connects to the running ringd's control socket at `path` and takes its listening sockets.
    static func request(from path: String) throws(StartupError) -> Takeover {
        let connection: ControlConnection
        do throws(SystemError) { connection = try ControlConnection.connect(to: path) } catch {
            throw StartupError(message: "cannot take over from \(path): \(error). \(advice(for: error.errno, path: path))")
        }
        // A refusal may come (and the connection close) before the request is sent: the answer,
        // read next, says why better than the failed send does.
        var requestFailure: SystemError?
        do throws(SystemError) { try connection.send(HandOverMessage.request) } catch { requestFailure = error }
        var offered: [ListeningSocket?] = []
        while true {
            let message: ControlMessage
            do throws(ControlWaitEnd) { message = try connection.receive(within: answerTimeout) } catch {
                offered.forEach { $0?.close() }
                if let requestFailure, case .closed = error {
                    throw StartupError(message: "cannot take over from \(path): \(requestFailure)")
                }
                throw failure(path, error, waitingFor: "its listening sockets")
            }
            if message.argument(after: HandOverMessage.sockets) != nil {
                offered += message.descriptors.map(listeningSocket)
            } else if let count = message.argument(after: HandOverMessage.end), Int(count) == offered.count {
                return Takeover(path: path, connection: connection, offered: offered)
            } else {
                message.descriptors.forEach { _ = close($0) }
                offered.forEach { $0?.close() }
                let refusal = message.argument(after: HandOverMessage.refused).map { "it refused: \($0)" }
                throw StartupError(
                    message: "cannot take over from \(path): " + (refusal ?? "unexpected answer \(message.text.debugDescription)")
                )
            }
        }
    }

    /// The offered sockets that listen on `address`, which are now the caller's; for TCP they
    /// take `backlog`, for a Unix socket its file takes `mode`.
    func adopt(_ address: ListenAddress, backlog: Int, unixMode mode: FileMode) -> [ListeningSocket] {
        var adopted: [ListeningSocket] = []
        for index in offered.indices {
            guard let socket = offered[index], socket.address.description == address.description else { continue }
            offered[index] = nil
            kept.append(index)
            _ = Glibc.listen(socket.descriptor, Int32(clamping: backlog))
            adopted.append(socket)
        }
        if address.family == .unix && !adopted.isEmpty { _ = chmod(address.path, mode_t(mode.bits)) }
        return adopted
    }

    /// Closes the offered sockets no address adopted. The old process still holds them, and
    /// closes them when it hands over.
    func closeUnadopted() {
        for index in offered.indices {
            offered[index]?.close()
            offered[index] = nil
        }
    }

    /// Every worker accepts: tells the old process `ready` with what was kept, and waits until
    /// it has stopped accepting (`released`).
    func commit() throws(StartupError) {
        closeUnadopted()
        do throws(SystemError) {
            try connection.send("\(HandOverMessage.ready) " + kept.map(String.init).joined(separator: ","))
        } catch {
            throw StartupError(message: "hand-over from \(path) failed: \(error)")
        }
        let answer: ControlMessage
        do throws(ControlWaitEnd) { answer = try connection.receive(within: Self.answerTimeout) } catch {
            throw Self.failure(path, error, waitingFor: "`released`")
        }
        guard answer.text == HandOverMessage.released else {
            throw StartupError(message: "hand-over from \(path) failed: unexpected answer \(answer.text.debugDescription)")
        }
        isCommitted = true
        connection.close()
    }

    /// Gives up: the old process sees the connection close and keeps serving.
    func abandon() {
        closeUnadopted()
        connection.close()
    }

    private static func listeningSocket(_ descriptor: Int32) -> ListeningSocket? {
        var listening: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) == 0, listening == 1,
            let address = try? SocketAddress(boundTo: descriptor)
        else {
            _ = close(descriptor)
            return nil
        }
        return ListeningSocket(descriptor: descriptor, address: address)
    }

    private static func failure(_ path: String, _ end: ControlWaitEnd, waitingFor what: String) -> StartupError {
        let cause =
            switch end {
            case .closed: "the running ringd closed the control connection before sending \(what)"
            case .timedOut: "the running ringd sent no \(what) within \(answerTimeout)"
            case .interrupted: "interrupted"
            case .failed(let error): "\(error)"
            }
        return StartupError(message: "cannot take over from \(path): \(cause)")
    }

    private static func advice(for code: Int32, path: String) -> String {
        switch code {
        case ENOENT:
            "There is no control socket there: is ringd running with server.control_socket = \"\(path)\"?"
        case ECONNREFUSED:
            "Nobody accepts there: the ringd that made it is gone. Start ringd without --takeover."
        case EACCES, EPERM:
            "The control socket is owner-only (0600): run ringd --takeover as the user the running ringd runs as."
        default:
            "Check that a ringd with server.control_socket = \"\(path)\" runs."
        }
    }
}
