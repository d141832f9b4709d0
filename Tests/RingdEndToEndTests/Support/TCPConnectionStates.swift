// The kernel's view of a TCP connection, read from /proc/self/net/tcp and tcp6: whether ringd's
// end of a client's connection is still established. This is what a user would check with
// `ss`, and it is independent of how ringd holds the socket (a descriptor, or a request still in
// flight on its ring that keeps the socket alive after close).
import Glibc

enum TCPConnectionStates {
    /// The state of ringd's end of the connection from `client` (the client's local address) to
    /// `server`: a /proc state name such as "ESTABLISHED" or "FIN_WAIT1", or nil when the kernel
    /// no longer has that end at all (reset and freed).
    static func serverSide(of client: Endpoint, server: Endpoint) -> String? {
        for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
            guard let text = readWholeFile(table) else { continue }
            // Columns: sl local_address rem_address st ...; addresses are HEXADDR:HEXPORT.
            for line in text.split(separator: "\n").dropFirst() {
                let columns = line.split(separator: " ", omittingEmptySubsequences: true)
                guard columns.count > 3,
                    let localPort = port(columns[1]), let remotePort = port(columns[2]),
                    localPort == server.port, remotePort == client.port
                else { continue }
                return stateName(columns[3])
            }
        }
        return nil
    }

    /// The whole of a /proc file. Foundation's `String(contentsOfFile:)` stops after the first
    /// page of a /proc file, which holds only the first few dozen sockets of a busy machine.
    private static func readWholeFile(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                contents.append(contentsOf: buffer[..<count])
            } else if count == 0 {
                return String(decoding: contents, as: UTF8.self)
            } else if errno != EINTR {
                return nil
            }
        }
    }

    /// Whether ringd has let go of the connection: its end is closing or gone.
    static func serverHasClosed(_ client: Endpoint, server: Endpoint) -> Bool {
        let state = serverSide(of: client, server: server)
        return state != "ESTABLISHED" && state != "SYN_RECV"
    }

    private static func port(_ column: Substring) -> UInt16? {
        guard let text = column.split(separator: ":").last else { return nil }
        return UInt16(text, radix: 16)
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
