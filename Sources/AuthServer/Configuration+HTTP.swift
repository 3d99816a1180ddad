import HTTPServer

extension Configuration.Variable {
    public static let maxConnectionsPerSource = "TESSERA_MAX_CONNECTIONS_PER_SOURCE"
    public static let eventLoops = "TESSERA_EVENT_LOOPS"
}

extension Configuration {
    /// Settings of the main listener's HTTP server.
    public struct HTTPSettings: Sendable, Equatable {
        /// Open connections one source (an IPv4 address or an IPv6 /64) may hold; 0: no limit.
        public var maxConnectionsPerSource: Int = HTTPServerLimits().maxConnectionsPerSource
        /// Event-loop threads of the main listener; nil: one per processor the process may run on.
        public var eventLoops: Int?

        /// The most event loops accepted: far more than any machine's cores, few enough that a typo
        /// cannot exhaust threads or descriptors (each loop holds an epoll, an eventfd and a listener).
        static let maxEventLoops = 256

        public init() {}

        /// Reads the settings through `value`, which returns a variable's value when it is set.
        static func load(_ value: (String) -> String?) throws(ConfigurationError) -> HTTPSettings {
            var settings = HTTPSettings()
            if let text = value(Variable.maxConnectionsPerSource) {
                guard text.count <= 7, text.allSatisfy(\.isASCIIDigit), let parsed = Int(text) else {
                    throw ConfigurationError(setting: Variable.maxConnectionsPerSource,
                                             message: "must be a whole number of connections, 0 (no limit) to 9999999 (got \"\(text)\")")
                }
                settings.maxConnectionsPerSource = parsed
            }
            if let text = value(Variable.eventLoops) {
                guard text.count <= 3, text.allSatisfy(\.isASCIIDigit), let parsed = Int(text), (1...maxEventLoops).contains(parsed) else {
                    throw ConfigurationError(setting: Variable.eventLoops,
                                             message: "must be a number of event-loop threads from 1 to \(maxEventLoops) (got \"\(text)\")")
                }
                settings.eventLoops = parsed
            }
            return settings
        }

        /// Applies these settings to the main listener's configuration.
        func apply(to configuration: inout HTTPServerConfiguration) {
            configuration.limits.maxConnectionsPerSource = maxConnectionsPerSource
            if let eventLoops {
                configuration.eventLoopThreads = eventLoops
            }
        }
    }
}
