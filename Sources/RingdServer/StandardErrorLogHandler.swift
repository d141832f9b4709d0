// The swift-log handler ringd's executable bootstraps: one line per event on standard error,
//
//     ringd: LEVEL: [worker=N] [peer=HOST:PORT] [key=value ...]: message
//
// written with one write(2), so lines from different workers never interleave (a pipe keeps
// writes up to PIPE_BUF whole). `worker` and `peer` come first because they say where the
// event happened; other metadata follows, sorted by key.

import Logging
import RingdSystem

#if canImport(Glibc)
    import Glibc
#endif

public struct StandardErrorLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let descriptor: Int32

    /// `descriptor` is standard error unless a test gives its own.
    public init(label: String, descriptor: Int32 = STDERR_FILENO) {
        self.descriptor = descriptor
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = Self.line(level: event.level, message: event.message, metadata: merged(event.metadata))
        line.withUTF8 { writeAll(descriptor, UnsafeRawBufferPointer($0)) }
    }

    private func merged(_ event: Logger.Metadata?) -> Logger.Metadata {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let event { all.merge(event) { _, new in new } }
        return all
    }

    static let leadingKeys = ["worker", "peer"]

    static func line(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata) -> String {
        var line = "ringd: \(level.rawValue): "
        if !metadata.isEmpty {
            let rest = metadata.keys.filter { !leadingKeys.contains($0) }.sorted()
            let keys = leadingKeys.filter { metadata[$0] != nil } + rest
            line += keys.map { "\($0)=\(metadata[$0]!)" }.joined(separator: " ") + ": "
        }
        line += "\(message)\n"
        return line
    }
}
