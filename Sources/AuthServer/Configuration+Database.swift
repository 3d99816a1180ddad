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
    /// Whether `TESSERA_DATABASE_URL` leads to a transaction-mode pooler (PgBouncer): then no
    /// session state is relied upon, and LISTEN and migrations use ``listenURL``.
    public var isBehindTransactionPooler = false
    /// A direct connection to PostgreSQL (no transaction-mode pooler) for the notification
    /// listener and migrations; nil: `TESSERA_DATABASE_URL`.
    public var listenURL: String?

    public init() {}

    /// The environment variables, in one place.
    public enum Variable {
        public static let poolSize = "TESSERA_DB_POOL_SIZE"
        public static let poolWait = "TESSERA_DB_POOL_WAIT"
        public static let statementTimeout = "TESSERA_DB_STATEMENT_TIMEOUT"
        public static let lockTimeout = "TESSERA_DB_LOCK_TIMEOUT"
        public static let connectTimeout = "TESSERA_DB_CONNECT_TIMEOUT"
        public static let pooler = "TESSERA_DB_POOLER"
        public static let listenURL = "TESSERA_LISTEN_DATABASE_URL"
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
        switch text(Variable.pooler) {
        case nil, "none": settings.isBehindTransactionPooler = false
        case "transaction": settings.isBehindTransactionPooler = true
        case let other?:
            throw ConfigurationError(setting: Variable.pooler, message: "must be none or transaction (got \"\(other)\")")
        }
        if let url = text(Variable.listenURL) {
            do { _ = try PostgresConfiguration.url(url) } catch {
                throw ConfigurationError(setting: Variable.listenURL, message: "must be a postgres:// or postgresql:// URL (\((error as? PostgresError)?.message ?? "\(error)"))")
            }
            settings.listenURL = url
        } else if settings.isBehindTransactionPooler {
            // LISTEN is session state: through a transaction-mode pooler it would be lost.
            throw ConfigurationError(
                setting: Variable.listenURL,
                message: "is required with \(Variable.pooler)=transaction: LISTEN and migrations need a direct connection to PostgreSQL")
        }
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

    /// Applies the bounds to a libpq configuration (not the pooler: see its callers).
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
    ///
    /// A multi-host URL (`postgresql://h1,h2,h3/db?target_session_attrs=read-write`) reaches
    /// whichever host is the primary; after a failover each connection finds the new one.
    public func postgresConfiguration() throws -> PostgresConfiguration {
        var configuration: PostgresConfiguration = try databaseURL.map { try .url($0) } ?? .environment()
        database.apply(to: &configuration)
        configuration.isBehindTransactionPooler = database.isBehindTransactionPooler
        return configuration
    }

    /// A direct connection to PostgreSQL, for LISTEN and migrations: `TESSERA_LISTEN_DATABASE_URL`,
    /// else `main` (the pool's own configuration, which then has no pooler in front).
    public func directPostgresConfiguration(default main: PostgresConfiguration) throws -> PostgresConfiguration {
        guard let url = database.listenURL else { return main }
        var configuration = try PostgresConfiguration.url(url)
        database.apply(to: &configuration)
        configuration.applicationName = main.applicationName
        return configuration
    }

    /// The pool of this instance, sized and bounded by ``DatabaseSettings``.
    public func makePool(_ configuration: PostgresConfiguration) -> PostgresPool {
        PostgresPool(configuration: configuration, size: database.poolSize, acquireTimeout: database.poolWait)
    }
}
