// The rows of /proc/self/net/tcp and tcp6, the kernel's table of this network namespace's TCP
// sockets (what `ss` reads): ports, state and queue lengths. TCPConnectionStates and TCPQueues
// look up a client's connection to ringd in it.
import Glibc

struct TCPSocketRow {
    var localPort: UInt16
    var remotePort: UInt16
    /// The state code, two hex digits ("01" is ESTABLISHED).
    var state: Substring
    /// Bytes in the send queue (sent but not acknowledged) and in the receive queue (not read).
    var transmitQueue: Int
    var receiveQueue: Int

    /// Every socket in both tables; rows that do not parse are skipped.
    static func all() -> [TCPSocketRow] {
        var rows: [TCPSocketRow] = []
        for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
            guard let text = readWholeFile(table) else { continue }
            // Columns: sl local_address rem_address st tx_queue:rx_queue ...; addresses are HEXADDR:HEXPORT.
            for line in text.split(separator: "\n").dropFirst() {
                let columns = line.split(separator: " ", omittingEmptySubsequences: true)
                guard columns.count > 4, let local = port(columns[1]), let remote = port(columns[2]) else { continue }
                let queues = columns[4].split(separator: ":")
                guard queues.count == 2, let transmit = Int(queues[0], radix: 16), let receive = Int(queues[1], radix: 16)
                else { continue }
                rows.append(TCPSocketRow(localPort: local, remotePort: remote, state: columns[3],
                                         transmitQueue: transmit, receiveQueue: receive))
            }
        }
        return rows
    }

    private static func port(_ column: Substring) -> UInt16? {
        guard let text = column.split(separator: ":").last else { return nil }
        return UInt16(text, radix: 16)
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
}
