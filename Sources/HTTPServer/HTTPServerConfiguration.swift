/// Where and how the server listens.
public struct HTTPServerConfiguration: Sendable {
    /// IPv4 or IPv6 literal to bind, e.g. `127.0.0.1`, `0.0.0.0` or `::`.
    public var host: String
    /// TCP port to bind; 0 picks an ephemeral port (see `HTTPServer.localPort`).
    public var port: UInt16
    public var limits: HTTPServerLimits
    public var timeouts: HTTPServerTimeouts
    /// Event-loop threads, each with its own epoll instance and `SO_REUSEPORT` listener, owning the
    /// connections the kernel hands that listener; by default one per processor this process may
    /// run on (`HTTPServerConfiguration.availableProcessors`).
    public var eventLoopThreads: Int
    /// Pending-connection queue length passed to `listen(2)`.
    public var listenBacklog: Int32
    /// TLS for every connection of this listener (nil: plain HTTP).
    public var tls: HTTPServerTLS?
    /// Makes the transport of each accepted socket; nil: plain sockets. The seam where a TLS
    /// session per connection plugs in.
    var makeTransport: (@Sendable (Int32) -> any ConnectionTransport)?

    /// The processors this process may run on (its CPU affinity, so `taskset` and container
    /// cpusets count), at least 1.
    public static var availableProcessors: Int { System.availableProcessors() }

    public init(host: String = "127.0.0.1", port: UInt16 = 8080) {
        self.host = host
        self.port = port
        self.limits = HTTPServerLimits()
        self.timeouts = HTTPServerTimeouts()
        self.eventLoopThreads = Self.availableProcessors
        self.listenBacklog = 1024
    }
}
