import HTTPServer

extension Configuration.Variable {
    public static let maxConnectionsPerSource = "TESSERA_MAX_CONNECTIONS_PER_SOURCE"
}

extension Configuration {
    /// Settings of the main listener's HTTP server.
    public struct HTTPSettings: Sendable, Equatable {
        /// Open connections one source (an IPv4 address or an IPv6 /64) may hold; 0: no limit.
        public var maxConnectionsPerSource: Int = HTTPServerLimits().maxConnectionsPerSource

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
            return settings
        }

        /// Applies these settings to the main listener's configuration.
        func apply(to configuration: inout HTTPServerConfiguration) {
            configuration.limits.maxConnectionsPerSource = maxConnectionsPerSource
        }
    }
}
