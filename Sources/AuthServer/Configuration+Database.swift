import Foundation
import Postgres

/// How Tessera uses PostgreSQL: the pool, and the bound on every wait.
public struct DatabaseSettings: Sendable, Equatable {
    /// Connections (and threads) in this instance's pool.
    public var poolSize = 8
    /// How long a request waits for a free pooled connection before 503.
    public var poolWait: Duration = .seconds(5)
    /// The server-side bound on each statement (`statement_timeout`).
    public var statementTimeout: Duration = .seconds(5)
    /// The server-side bound on each wait for a lock (`lock_timeout`).
    public var lockTimeout: Duration = .seconds(2)
    /// How long connecting to each host of the URL may take (libpq's `connect_timeout`, at least 2 s).
    public var connectTimeout: Duration = .seconds(3)

    public init() {}

    /// The environment variables, in one place.
    public enum Variable {
        public static let poolSize = "TESSERA_DB_POOL_SIZE"
        public static let poolWait = "TESSERA_DB_POOL_WAIT"
        public static let statementTimeout = "TESSERA_DB_STATEMENT_TIMEOUT"
        public static let lockTimeout = "TESSERA_DB_LOCK_TIMEOUT"
        public static let connectTimeout = "TESSERA_DB_CONNECT_TIMEOUT"
    }

    /// Reads the settings from the environment, validating each value.
    static func load(environment: [String: String]) throws(ConfigurationError) -> DatabaseSettings {
        func text(_ variable: String) -> String? {
            guard let value = environment[variable], !value.isEmpty else { return nil }
            return value
        }
        func duration(_ variable: String, default fallback: Duration, range: ClosedRange<Duration>) throws(ConfigurationError) -> Duration {
            guard let value = text(variable) else { return fallback }
            guard let parsed = Self.duration(value), range.contains(parsed) else {
                throw ConfigurationError(
                    setting: variable,
                    message: "must be a duration from \(Self.describe(range.lowerBound)) to \(Self.describe(range.upperBound)), "
                        + "such as 5s or 500ms (got \"\(value)\")")
            }
            return parsed
        }
        var settings = DatabaseSettings()
        if let value = text(Variable.poolSize) {
            guard value.count <= 4, value.allSatisfy(\.isASCIIDigit), let size = Int(value), (1...1_000).contains(size) else {
                throw ConfigurationError(setting: Variable.poolSize, message: "must be a number of connections from 1 to 1000 (got \"\(value)\")")
            }
            settings.poolSize = size
        }
        settings.poolWait = try duration(Variable.poolWait, default: settings.poolWait, range: .milliseconds(100)...(.seconds(600)))
        settings.statementTimeout = try duration(
            Variable.statementTimeout, default: settings.statementTimeout, range: .milliseconds(100)...(.seconds(3_600)))
        settings.lockTimeout = try duration(Variable.lockTimeout, default: settings.lockTimeout, range: .milliseconds(100)...(.seconds(3_600)))
        settings.connectTimeout = try duration(Variable.connectTimeout, default: settings.connectTimeout, range: .seconds(2)...(.seconds(600)))
        return settings
    }

    /// `500ms`, or anything `DurationText` reads (`5s`, `2m`, …).
    static func duration(_ text: String) -> Duration? {
        if text.hasSuffix("ms") {
            let digits = text.dropLast(2)
            guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy(\.isASCIIDigit), let value = Int64(digits) else { return nil }
            return .milliseconds(value)
        }
        return DurationText.seconds(text).map { .milliseconds(Int64($0 * 1_000)) }
    }

    private static func describe(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1_000 == 0 ? "\(milliseconds / 1_000)s" : "\(milliseconds)ms"
    }

    /// Applies the bounds to a libpq configuration.
    func apply(to configuration: inout PostgresConfiguration) {
        configuration.statementTimeout = statementTimeout
        configuration.lockTimeout = lockTimeout
        let (seconds, attoseconds) = connectTimeout.components
        configuration.connectTimeoutSeconds = Int(seconds) + (attoseconds > 0 ? 1 : 0)
    }
}

extension Configuration {
    /// Where and how to reach PostgreSQL: `TESSERA_DATABASE_URL` (or libpq's `PG*` variables)
    /// with the bounds of ``DatabaseSettings``.
    public func postgresConfiguration() throws -> PostgresConfiguration {
        var configuration: PostgresConfiguration = try databaseURL.map { try .url($0) } ?? .environment()
        database.apply(to: &configuration)
        return configuration
    }

    /// The pool of this instance, sized and bounded by ``DatabaseSettings``.
    public func makePool(_ configuration: PostgresConfiguration) -> PostgresPool {
        PostgresPool(configuration: configuration, size: database.poolSize, acquireTimeout: database.poolWait)
    }
}
