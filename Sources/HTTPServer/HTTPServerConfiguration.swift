/// Where and how the server listens.
public struct HTTPServerConfiguration: Sendable {
    /// IPv4 or IPv6 literal to bind, e.g. `127.0.0.1`, `0.0.0.0` or `::`.
    public var host: String
    /// TCP port to bind; 0 picks an ephemeral port (see `HTTPServer.localPort`).
    public var port: UInt16
    public var limits: HTTPServerLimits
    public var timeouts: HTTPServerTimeouts
    /// Event-loop threads, each with its own epoll instance and `SO_REUSEPORT` listener.
    public var eventLoopThreads: Int
    /// Pending-connection queue length passed to `listen(2)`.
    public var listenBacklog: Int32
    /// TLS for every connection of this listener (nil: plain HTTP).
    public var tls: HTTPServerTLS?

    public init(host: String = "127.0.0.1", port: UInt16 = 8080) {
        self.host = host
        self.port = port
        self.limits = HTTPServerLimits()
        self.timeouts = HTTPServerTimeouts()
        self.eventLoopThreads = 1
        self.listenBacklog = 1024
    }
}
