// Every mode ringd serves, and how each worker makes its service from the configuration. The
// engine is generic over the service, so each line below is one specialisation of the whole
// event loop. A new mode is its Service conformer in RingdServices and one line here (and its
// name in `server.mode`).

import RingdConfig
import RingdServices

extension Server {
    /// Runs the mode `server.mode` names, taking the listeners of the ringd whose control socket
    /// is `takeover`, if given; see `serve` for what happens until it stops.
    @discardableResult
    public static func run(
        configuration: Configuration, takeover: String? = nil, reload: () throws -> Configuration = { throw ReloadUnavailable() },
        ready: (ServerReady) -> Void
    ) throws(StartupError) -> [WorkerStatistics] {
        let slots = configuration.server.maxConnections
        switch configuration.server.mode {
        case .echo where !configuration.echoesLines:
            return try serve(
                configuration: configuration, makeService: { _, _ in RawEcho() }, takeover: takeover, reload: reload, ready: ready
            )
        case .echo:
            return try serve(
                configuration: configuration,
                makeService: { configuration, _ in
                    EchoLinesService(
                        numbering: configuration.echo.lineNumbers, maxLine: configuration.echo.maxLine, capacity: slots)
                }, takeover: takeover, reload: reload, ready: ready)
        case .greet:
            return try serve(
                configuration: configuration,
                makeService: { configuration, _ in
                    GreetService(message: configuration.greet.message)
                }, takeover: takeover, reload: reload, ready: ready)
        case .counter:
            return try serve(
                configuration: configuration,
                makeService: { configuration, worker in
                    CounterService(message: configuration.counter.message, numbers: worker.group.connectionNumbers)
                }, takeover: takeover, reload: reload, ready: ready)
        case .broadcast:
            return try serve(
                configuration: configuration,
                makeService: { configuration, _ in
                    let broadcast = configuration.broadcast
                    return Broadcast(message: broadcast.message, greeting: broadcast.greeting, interval: broadcast.interval)
                }, takeover: takeover, reload: reload, ready: ready)
        case .relay:
            return try serve(
                configuration: configuration,
                makeService: { configuration, worker in
                    RelayHub(
                        capacity: slots, maxLine: configuration.relay.maxLine, options: relayOptions(configuration, worker),
                        directory: worker.group.relayDirectory)
                }, takeover: takeover, reload: reload, ready: ready)
        }
    }

    /// Worker i of n names its clients client(i+1), client(i+1+n), ...: disjoint numbers. With
    /// a cluster the names end in `@NODE`, which the configuration checked is a short name.
    private static func relayOptions(_ configuration: Configuration, _ worker: Worker) -> RelayOptions {
        let node =
            configuration.cluster.redis == nil
            ? nil
            : Array(configuration.cluster.nodeName.utf8).withUnsafeBytes {
                try? RelayName(naming: $0)
            }
        return RelayOptions(
            notices: configuration.relay.notices, welcome: configuration.relay.welcome,
            firstClientNumber: UInt64(worker.index + 1), clientNumberStride: UInt64(worker.group.workerCount),
            worker: worker.index, node: node)
    }
}

/// The worker a service is made for, and what it shares with the others.
struct Worker {
    let index: Int
    let group: WorkerGroup
}

extension Configuration {
    /// Echo answers whole lines: numbering and the access log are about lines, so either one
    /// turns line mode on.
    var echoesLines: Bool { echo.lines || echo.lineNumbers || echo.accessLog }
}
