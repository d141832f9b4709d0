// The kernel's view of a TCP connection, read from /proc/self/net/tcp and tcp6: whether ringd's
// end of a client's connection is still established. This is what a user would check with
// `ss`, and it is independent of how ringd holds the socket (a descriptor, or a request still in
// flight on its ring that keeps the socket alive after close).
import Glibc
import TestSupport

enum TCPConnectionStates {
    /// The state of ringd's end of the connection from `client` (the client's local address) to
    /// `server`: a /proc state name such as "ESTABLISHED" or "FIN_WAIT1", or nil when the kernel
    /// no longer has that end at all (reset and freed).
    static func serverSide(of client: Endpoint, server: Endpoint) -> String? {
        TCPSocketRow.all().first { $0.localPort == server.port && $0.remotePort == client.port }.map { stateName($0.state) }
    }

    /// Whether ringd has let go of the connection: its end is closing or gone.
    static func serverHasClosed(_ client: Endpoint, server: Endpoint) -> Bool {
        let state = serverSide(of: client, server: server)
        return state != "ESTABLISHED" && state != "SYN_RECV"
    }

    private static func stateName(_ code: Substring) -> String {
        switch code {
        case "01": "ESTABLISHED"
        case "02": "SYN_SENT"
        case "03": "SYN_RECV"
        case "04": "FIN_WAIT1"
        case "05": "FIN_WAIT2"
        case "06": "TIME_WAIT"
        case "07": "CLOSE"
        case "08": "CLOSE_WAIT"
        case "09": "LAST_ACK"
        case "0A": "LISTEN"
        case "0B": "CLOSING"
        default: "state \(code)"
        }
    }
}
