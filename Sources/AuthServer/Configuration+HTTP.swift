import HTTPServer

extension Configuration {
    /// Settings of the main listener's HTTP server.
    ///
    /// The values come from ``Configuration/httpSettings``; the initial ones are placeholders.
    public struct HTTPSettings: Sendable, Equatable {
        /// Open connections one source (an IPv4 address or an IPv6 /64) may hold; 0: no limit.
        public var maxConnectionsPerSource = 0

        /// Applies these settings to the main listener's configuration.
        func apply(to configuration: inout HTTPServerConfiguration) {
            configuration.limits.maxConnectionsPerSource = maxConnectionsPerSource
        }
    }

    /// The HTTP server's settings; their defaults are ``HTTPServerLimits``'s.
    static let httpSettings: [Setting] = [
        Setting("TESSERA_MAX_CONNECTIONS_PER_SOURCE", \.http.maxConnectionsPerSource,
                .wholeNumber(0...9_999_999, requirement: "must be a whole number of connections, 0 (no limit) to 9999999"),
                default: .value(String(HTTPServerLimits().maxConnectionsPerSource)), example: "1000", group: .server,
                "open connections one source may hold (an IPv4 address, or an IPv6 /64); more are answered 503 and closed at once. "
                    + "`0`: no limit"),
    ]
}
