// How many bytes the kernel holds on each end of a client's connection to ringd, read from
// /proc/self/net/tcp (the `tx_queue:rx_queue` column, which `ss` shows as Send-Q and Recv-Q).
// ringd's end has an empty receive queue once ringd has read everything that reached it, and
// the client's end has an empty send queue once ringd's kernel has acknowledged every byte sent:
// together, "ringd has taken every byte this client sent". A receive queue that stays full on
// ringd's end is the mark of back-pressure: ringd stopped reading from that client.
import Glibc

struct TCPQueues: CustomStringConvertible {
    /// Bytes the client sent that ringd's kernel has not acknowledged yet.
    let clientUnacknowledged: Int
    /// Bytes that reached ringd's end and that ringd has not read.
    let serverUnread: Int

    var description: String {
        "client send queue \(clientUnacknowledged) bytes, ringd's receive queue \(serverUnread) bytes"
    }

    /// The queues of the connection from `client` (the client's local address) to `server`, or
    /// nil when either end is missing from the table.
    static func of(client: Endpoint, server: Endpoint) -> TCPQueues? {
        var clientSide: (transmit: Int, receive: Int)?
        var serverSide: (transmit: Int, receive: Int)?
        for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
            guard let text = readWholeFile(table) else { continue }
            // Columns: sl local_address rem_address st tx_queue:rx_queue ...
            for line in text.split(separator: "\n").dropFirst() {
                let columns = line.split(separator: " ", omittingEmptySubsequences: true)
                guard columns.count > 4, let local = port(columns[1]), let remote = port(columns[2]) else { continue }
                let queues = columns[4].split(separator: ":")
                guard queues.count == 2, let transmit = Int(queues[0], radix: 16), let receive = Int(queues[1], radix: 16)
                else { continue }
                if local == client.port && remote == server.port { clientSide = (transmit, receive) }
                if local == server.port && remote == client.port { serverSide = (transmit, receive) }
            }
        }
        guard let clientSide, let serverSide else { return nil }
        return TCPQueues(clientUnacknowledged: clientSide.transmit, serverUnread: serverSide.receive)
    }

    /// Waits until ringd has read every byte `client` sent (both queues empty), for at most
    /// `timeout`; returns the last queues seen.
    static func waitUntilServerHasReadEverything(
        from client: Endpoint, server: Endpoint, timeout: Duration = .seconds(20)
    ) -> TCPQueues? {
        let deadline = Deadline(after: timeout)
        var queues = of(client: client, server: server)
        while !deadline.hasPassed {
            if let queues, queues.clientUnacknowledged == 0 && queues.serverUnread == 0 { return queues }
            usleep(20_000)
            queues = of(client: client, server: server)
        }
        return queues
    }

    private static func port(_ column: Substring) -> UInt16? {
        guard let text = column.split(separator: ":").last else { return nil }
        return UInt16(text, radix: 16)
    }

    /// The whole of a /proc file (Foundation stops after its first page).
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
}
