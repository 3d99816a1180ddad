import HTTPServer

extension Configuration {
    /// Settings of the main listener's HTTP server.
    ///
    /// The values come from ``Configuration/httpSettings``; the initial ones are placeholders.
    public struct HTTPSettings: Sendable, Equatable {
        /// Open connections one source (an IPv4 address or an IPv6 /64) may hold; 0: no limit.
        public var maxConnectionsPerSource = 0
        /// Event-loop threads of the main listener; nil: one per processor the process may run on.
        public var eventLoops: Int?

        /// Applies these settings to the main listener's configuration.
        func apply(to configuration: inout HTTPServerConfiguration) {
            configuration.limits.maxConnectionsPerSource = maxConnectionsPerSource
            if let eventLoops {
                configuration.eventLoopThreads = eventLoops
            }
        }
    }

    /// The HTTP server's settings; their defaults are ``HTTPServerLimits``'s.
    static let httpSettings: [Setting] = [
        Setting("TESSERA_MAX_CONNECTIONS_PER_SOURCE", \.http.maxConnectionsPerSource,
                .wholeNumber(0...9_999_999, requirement: "must be a whole number of connections, 0 (no limit) to 9999999"),
                default: .value(String(HTTPServerLimits().maxConnectionsPerSource)), example: "1000", group: .server,
                "open connections one source may hold (an IPv4 address, or an IPv6 /64); more are answered 503 and closed at once. "
                    + "`0`: no limit"),
        Setting("TESSERA_EVENT_LOOPS", \.http.eventLoops,
                .wholeNumber(1...256, requirement: "must be a number of event-loop threads from 1 to 256"),
                default: .unset("one per processor"), example: "2", group: .server,
                "event-loop threads of the main listener; by default as many as the processors the process may run on (its CPU affinity). "
                    + "At most 256: each holds an epoll, an eventfd and a listening socket"),
    ]
}
