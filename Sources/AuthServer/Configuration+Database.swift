import Foundation
import Postgres

/// How Tessera uses PostgreSQL: the pool, and the bound on every wait.
///
/// The values come from ``Configuration/databaseSettings``; the initial ones are placeholders.
public struct DatabaseSettings: Sendable, Equatable {
    /// Connections (and threads) in this instance's pool.
    public var poolSize = 0
    /// How long a request waits for a free pooled connection before 503.
    public var poolWait: Duration = .zero
    /// The server-side bound on each statement (`statement_timeout`).
    public var statementTimeout: Duration = .zero
    /// The server-side bound on each wait for a lock (`lock_timeout`).
    public var lockTimeout: Duration = .zero
    /// How long connecting to each host of the URL may take (libpq's `connect_timeout`, at least 2 s).
    public var connectTimeout: Duration = .zero
    /// Whether `TESSERA_DATABASE_URL` leads to a transaction-mode pooler (PgBouncer): then no
    /// session state is relied upon, and LISTEN and migrations use ``listenURL``.
    public var isBehindTransactionPooler = false
    /// A direct connection to PostgreSQL (no transaction-mode pooler) for the notification
    /// listener and migrations; nil: `TESSERA_DATABASE_URL`.
    public var listenURL: String?

    /// Applies the bounds to a libpq configuration (not the pooler: see its callers).
    func apply(to configuration: inout PostgresConfiguration) {
        configuration.statementTimeout = statementTimeout
        configuration.lockTimeout = lockTimeout
        let (seconds, attoseconds) = connectTimeout.components
        configuration.connectTimeoutSeconds = Int(seconds) + (attoseconds > 0 ? 1 : 0)
    }
}

extension Configuration.SettingValue where Value == Bool {
    /// `none` or `transaction`: whether a transaction-mode pooler stands between Tessera and PostgreSQL.
    static var pooler: Self {
        Self(valueName: "mode", accepts: "`none` or `transaction`") { text throws(ValueError) in
            switch text {
            case "none": return false
            case "transaction": return true
            default: throw ValueError("must be none or transaction")
            }
        }
    }
}

extension Configuration {
    /// LISTEN is session state: through a transaction-mode pooler it would be lost.
    static let databaseSettingChecks: [SettingCheck] = [
        SettingCheck(\.database.listenURL) { configuration in
            configuration.database.isBehindTransactionPooler && configuration.database.listenURL == nil
                ? "is required with TESSERA_DB_POOLER=transaction: LISTEN and migrations need a direct connection to PostgreSQL" : nil
        },
    ]

    /// Where PostgreSQL is, and the bounds on every wait for it.
    static let databaseSettings: [Setting] = [
        Setting("TESSERA_DATABASE_URL", \.databaseURL, .postgresURL, default: .unset("libpq's `PG*` variables"),
                example: "postgresql://tessera@db.example.com/tessera", group: .database, "the database"),
        Setting("TESSERA_DB_POOL_SIZE", \.database.poolSize,
                .wholeNumber(1...1_000, requirement: "must be a number of connections from 1 to 1000"), default: .value("8"), example: "20",
                group: .database, "PostgreSQL connections of this instance's pool"),
        Setting("TESSERA_DB_POOL_WAIT", \.database.poolWait, .preciseDuration(.milliseconds(100)...(.seconds(600))),
                default: .value("5s"), example: "1500ms", group: .database,
                "how long a request waits for a free pooled connection before `503`"),
        Setting("TESSERA_DB_STATEMENT_TIMEOUT", \.database.statementTimeout,
                .preciseDuration(.milliseconds(100)...(.seconds(3_600))), default: .value("5s"), example: "10s", group: .database,
                "PostgreSQL's `statement_timeout` for every statement; the client cancels a statement not answered 2 s later, "
                    + "and drops a connection that does not answer the cancel either"),
        Setting("TESSERA_DB_LOCK_TIMEOUT", \.database.lockTimeout,
                .preciseDuration(.milliseconds(100)...(.seconds(3_600))), default: .value("2s"), example: "500ms", group: .database,
                "PostgreSQL's `lock_timeout`: the longest wait for a row or table lock"),
        Setting("TESSERA_DB_CONNECT_TIMEOUT", \.database.connectTimeout,
                .preciseDuration(.seconds(2)...(.seconds(600))), default: .value("3s"), example: "10s", group: .database,
                "how long connecting to each host of the URL may take"),
        Setting("TESSERA_DB_POOLER", \.database.isBehindTransactionPooler, .pooler, default: .value("none"), example: "transaction",
                group: .database,
                "`transaction` when `TESSERA_DATABASE_URL` leads to a transaction-mode pooler (PgBouncer): nothing is kept in a "
                    + "session (timeouts are set per transaction), and LISTEN and migrations use `TESSERA_LISTEN_DATABASE_URL`"),
        Setting("TESSERA_LISTEN_DATABASE_URL", \.database.listenURL, .postgresURL, default: .unset("`TESSERA_DATABASE_URL`"),
                example: "postgresql://tessera@db-primary.example.com/tessera", group: .database,
                "a direct connection to PostgreSQL (no transaction-mode pooler) for the notification listener and migrations; "
                    + "required with `TESSERA_DB_POOLER=transaction`"),
        Setting("TESSERA_OUTAGE_GRACE", \.outageGrace, .duration(0...86_400, example: "5m"), default: .value("5m"),
                example: "0", group: .database,
                "while PostgreSQL is unreachable, how long cached client registrations and the revocation set may still answer "
                    + "(`0`: not at all)"),
        Setting("TESSERA_JANITOR_INTERVAL", \.janitorInterval, .duration(1...86_400, example: "5m"),
                default: .value("5m"), example: "1m", group: .database, "how often expired rows are deleted (by one instance at a time)"),
    ]

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
