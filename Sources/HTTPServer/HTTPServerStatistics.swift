/// A snapshot of a server's connection and request counters, for metrics.
public struct HTTPServerStatistics: Sendable, Equatable {
    /// Client connections open now.
    public var openConnections: Int
    /// Requests handed to the responder's asynchronous path and not yet answered.
    public var inFlightRequests: Int
    /// Connections refused (503, closed) since start because `maxConnections` were open or the server was stopping.
    public var connectionsRefusedOverCapacity: Int
    /// Connections refused (503, closed) since start because their source had `maxConnectionsPerSource` open.
    public var connectionsRefusedPerSource: Int
    /// Requests answered 503 since start because `maxInFlightRequests` were being handled.
    public var requestsRefusedOverload: Int
}
