import Synchronization

/// Responses made on other threads, on their way back to the loop that owns their connection;
/// many producers, one consumer, and no lock.
///
/// Producers push onto a linked stack with one compare-and-exchange; the loop takes the whole
/// stack with one exchange and reverses it. Taking everything at once is what makes this safe
/// without hazard pointers: no node is ever removed while a producer may still read it, and a
/// producer's compare-and-exchange succeeds only if the head is still the node its own `next`
/// points to.
final class ResponseInbox: Sendable {
    struct Item: Sendable {
        var connection: UInt64
        var sequence: UInt64
        var response: HTTPResponse
    }

    private final class Node: @unchecked Sendable {
        let item: Item
        /// Set before the node is published and never after.
        var next: Unmanaged<Node>?

        init(_ item: Item) {
            self.item = item
        }
    }

    private let head = Atomic<Unmanaged<Node>?>(nil)

    init() {}

    deinit {
        _ = takeAll()
    }

    /// Adds an item (any thread); true when the inbox was empty, so the consumer must be woken.
    func push(_ item: Item) -> Bool {
        let node = Unmanaged.passRetained(Node(item))
        var expected = head.load(ordering: .relaxed)
        while true {
            node.takeUnretainedValue().next = expected
            let (exchanged, current) = head.compareExchange(
                expected: expected, desired: node, successOrdering: .releasing, failureOrdering: .relaxed
            )
            if exchanged { return expected == nil }
            expected = current
        }
    }

    /// Removes and returns every item, oldest first (the consumer's thread only).
    func takeAll() -> [Item] {
        guard var node = head.exchange(nil, ordering: .acquiring) else { return [] }
        var items: [Item] = []
        while true {
            let current = node.takeRetainedValue()
            items.append(current.item)
            guard let next = current.next else { break }
            node = next
        }
        items.reverse()
        return items
    }
}
