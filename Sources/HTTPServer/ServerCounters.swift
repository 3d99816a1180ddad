import Synchronization

/// Counters shared by every event loop of one server.
final class ServerCounters: Sendable {
    /// Open client connections.
    let connections = Atomic<Int>(0)
    /// Requests handed to the responder and not yet answered.
    let inFlightRequests = Atomic<Int>(0)
    /// Connections refused because `maxConnections` was reached or the server was stopping.
    let connectionsRefusedOverCapacity = Atomic<Int>(0)
    /// Connections refused because their source had `maxConnectionsPerSource` open.
    let connectionsRefusedPerSource = Atomic<Int>(0)
    /// Requests answered 503 because `maxInFlightRequests` were being handled.
    let requestsRefusedOverload = Atomic<Int>(0)
    /// Open connections per source; a source is removed when its last connection closes, so the
    /// table never holds more than `maxConnections` entries. Taken once per accept and per close,
    /// never per request.
    private let connectionsPerSource = Mutex<[SourceAddressKey: Int]>([:])

    /// Counts a new connection from `source` unless it already has `limit` open; false when refused.
    func admit(_ source: SourceAddressKey, limit: Int) -> Bool {
        connectionsPerSource.withLock { table in
            let open = table[source, default: 0]
            guard open < limit else { return false }
            table[source] = open + 1
            return true
        }
    }

    /// Uncounts a connection from `source` that `admit` counted.
    func release(_ source: SourceAddressKey) {
        connectionsPerSource.withLock { table in
            guard let open = table[source] else { return }
            if open <= 1 {
                table.removeValue(forKey: source)
            } else {
                table[source] = open - 1
            }
        }
    }

    var statistics: HTTPServerStatistics {
        HTTPServerStatistics(
            openConnections: connections.load(ordering: .relaxed),
            inFlightRequests: inFlightRequests.load(ordering: .relaxed),
            connectionsRefusedOverCapacity: connectionsRefusedOverCapacity.load(ordering: .relaxed),
            connectionsRefusedPerSource: connectionsRefusedPerSource.load(ordering: .relaxed),
            requestsRefusedOverload: requestsRefusedOverload.load(ordering: .relaxed)
        )
    }
}
