// How many bytes the kernel holds on each end of a client's connection to ringd, read from
// /proc/self/net/tcp (the `tx_queue:rx_queue` column, which `ss` shows as Send-Q and Recv-Q).
// ringd's end has an empty receive queue once ringd has read everything that reached it, and
// the client's end has an empty send queue once ringd's kernel has acknowledged every byte sent:
// together, "ringd has taken every byte this client sent". A receive queue that stays full on
// ringd's end is the mark of back-pressure: ringd stopped reading from that client.
import Glibc
import TestSupport

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
        for row in TCPSocketRow.all() {
            if row.localPort == client.port && row.remotePort == server.port { clientSide = (row.transmitQueue, row.receiveQueue) }
            if row.localPort == server.port && row.remotePort == client.port { serverSide = (row.transmitQueue, row.receiveQueue) }
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
}
