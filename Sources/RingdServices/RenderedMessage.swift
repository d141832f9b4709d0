// RenderedMessage: a message without placeholders, rendered once into memory of its own, so a
// service can send the same bytes to every connection with no rendering and no output chunk.
// The memory is freed when the last reference goes: a service that replaces its message on a
// reload keeps the old one while sends may still read it.

public final class RenderedMessage: @unchecked Sendable {
    // @unchecked: the bytes are written once, in init, and only read after.
    private let storage: UnsafeMutableRawBufferPointer
    public let bytes: UnsafeRawBufferPointer

    /// Nil when `message` has placeholders, which must be rendered per connection.
    public init?(_ message: MessageTemplate) {
        guard message.placeholders.isEmpty else { return nil }
        storage = .allocate(byteCount: max(1, message.maximumRenderedCount), alignment: 8)
        var writer = ByteWriter(storage)
        _ = message.render(MessageTemplate.Values(), into: &writer)
        bytes = UnsafeRawBufferPointer(rebasing: storage[0..<writer.count])
    }

    deinit { storage.deallocate() }
}
