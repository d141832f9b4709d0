// SlotTable: per-connection state of a service, indexed by the engine's connection slot.
//
// Fixed capacity, allocated once and never grown, so opening a connection allocates nothing.
// The memory is not written until a slot is first used: the engine hands out slots from the
// lowest, so an idle server's table costs only the pages its busiest moment touched. Elements
// are plain values (no references), set when a connection opens and simply overwritten by the
// slot's next one.

public final class SlotTable<Element: BitwiseCopyable> {
    public let capacity: Int
    private let elements: UnsafeMutablePointer<Element>

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        elements = .allocate(capacity: capacity)
    }

    deinit { elements.deallocate() }

    @inline(__always)
    public subscript(slot: Int) -> Element {
        get {
            precondition(slot >= 0 && slot < capacity, "slot \(slot) is outside the table's \(capacity)")
            return elements[slot]
        }
        set {
            precondition(slot >= 0 && slot < capacity, "slot \(slot) is outside the table's \(capacity)")
            elements[slot] = newValue
        }
    }

    /// Changes the element in place.
    @inline(__always)
    public func update<Result>(_ slot: Int, _ body: (inout Element) -> Result) -> Result {
        precondition(slot >= 0 && slot < capacity, "slot \(slot) is outside the table's \(capacity)")
        return body(&elements[slot])
    }
}
