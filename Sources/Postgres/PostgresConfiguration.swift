internal import CLibPQ
import Foundation

/// Where and how to connect: a URL or libpq's own `PG*` environment variables, plus the
/// few settings Tessera always wants.
///
/// Connection parameters are handed to libpq as separate keyword/value pairs
/// (`PQconnectdbParams`); nothing is ever spliced into a connection string.
public struct PostgresConfiguration: Sendable {
    /// The URL given to `url(_:)`; libpq parses it itself (`dbname` with `expand_dbname=1`).
    private var url: String?

    /// How long connecting may take before it fails, in seconds (libpq `connect_timeout`).
    /// Bounds how long a request waits when the database is down; libpq treats values below 2 as 2.
    public var connectTimeoutSeconds: Int = 3
    /// Reported to the server as `application_name` (visible in `pg_stat_activity`).
    public var applicationName: String = "tessera"
    /// The schema search path for every session, for example `"tessera, public"`.
    /// Sent as the server option `-c search_path=…` through the `options` keyword, with
    /// libpq's backslash escaping; it is never part of SQL text. Not available through a
    /// transaction-mode pooler (set it on the role there).
    public var searchPath: String?
    /// The server-side bound on each statement (`statement_timeout`); nil: the server's default.
    public var statementTimeout: Duration? = .seconds(5)
    /// The server-side bound on each wait for a row or table lock (`lock_timeout`); nil: the
    /// server's default. Shorter than `statementTimeout`, so that a lock held by someone else
    /// fails fast and frees the connection.
    public var lockTimeout: Duration? = .seconds(2)
    /// The client-side bound on each wait for the server's answer. When it passes the statement
    /// is cancelled (`PQcancel`); a server that does not answer the cancel within
    /// `cancelGrace` loses the connection. Nil: `statementTimeout` plus two seconds (the server
    /// normally ends the statement first), or 30 s without a statement timeout.
    public var responseTimeout: Duration?
    /// How long a cancelled statement may take to end before its connection is dropped.
    public var cancelGrace: Duration = .seconds(2)
    /// Whether a transaction-mode pooler (PgBouncer with `pool_mode = transaction`) stands
    /// between the client and PostgreSQL, so that no session state may be relied upon.
    ///
    /// Then nothing is sent in the startup packet's `options` (PgBouncer before 1.20 refuses
    /// the connection over it, and later ones pass on only the settings they track), and the
    /// timeouts are set with `SET LOCAL` at the start of every transaction instead, in the
    /// same round trip as its `BEGIN`; single statements outside a transaction are bounded by
    /// the client-side deadline and by the role's own `statement_timeout`, if any.
    public var isBehindTransactionPooler = false

    private init(url: String?) {
        self.url = url
    }

    /// A configuration from a `postgres://` or `postgresql://` URL, which libpq parses.
    ///
    /// - Throws: `PostgresError` of kind `.connection` when the URL has another scheme or
    ///   libpq cannot parse it.
    public static func url(_ url: String) throws -> PostgresConfiguration {
        let lowered = url.lowercased()
        guard lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") else {
            throw PostgresError(
                kind: .connection,
                message: "invalid PostgreSQL URL: it must start with postgres:// or postgresql://")
        }
        guard !url.utf8.contains(0) else {
            throw PostgresError(kind: .connection, message: "invalid PostgreSQL URL: it contains a NUL byte")
        }
        // libpq accepts only the lower-case schemes; normalise so its parser sees one.
        let normalized: String
        if lowered.hasPrefix("postgres://") {
            normalized = "postgres://" + url.dropFirst("postgres://".count)
        } else {
            normalized = "postgresql://" + url.dropFirst("postgresql://".count)
        }
        if let problem = ConnectionInfoParser.problem(in: normalized) {
            throw PostgresError(kind: .connection, message: "invalid PostgreSQL URL: \(problem)")
        }
        return PostgresConfiguration(url: normalized)
    }

    /// A configuration that leaves host, port, user, password and database to libpq's own
    /// environment variables (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, …).
    public static func environment() -> PostgresConfiguration {
        PostgresConfiguration(url: nil)
    }

    /// The keyword/value pairs passed to `PQconnectdbParams`, in order.
    ///
    /// Pairs before `dbname` may be overridden by the URL's own query parameters; pairs after
    /// it override the URL. The `options` pair is ours and replaces any `options` in the URL.
    var connectionParameters: [(String, String)] {
        var parameters: [(String, String)] = [
            ("connect_timeout", String(max(connectTimeoutSeconds, 1))),
            ("application_name", applicationName),
        ]
        if let url {
            parameters.append(("dbname", url))
        }
        // Decoders read text results in UTF-8 and timestamps in ISO style: pin both (PgBouncer
        // passes client_encoding on; the DateStyle is checked at connect).
        parameters.append(("client_encoding", "UTF8"))
        if !isBehindTransactionPooler {
            var options = "-c datestyle=ISO,MDY"
            for (name, value) in sessionSettings {
                options += " -c \(name)=" + Self.escapeOptionValue(value)
            }
            if let searchPath {
                options += " -c search_path=" + Self.escapeOptionValue(searchPath)
            }
            parameters.append(("options", options))
        }
        return parameters
    }

    /// The timeouts as server settings, in milliseconds (`0` would mean none; nil is left out).
    var sessionSettings: [(String, String)] {
        var settings: [(String, String)] = []
        if let statementTimeout { settings.append(("statement_timeout", String(Self.milliseconds(statementTimeout)))) }
        if let lockTimeout { settings.append(("lock_timeout", String(Self.milliseconds(lockTimeout)))) }
        return settings
    }

    /// What follows `BEGIN` in the same round trip behind a transaction-mode pooler: the
    /// timeouts for this transaction only. Empty otherwise (the session already has them).
    var transactionPrelude: String {
        guard isBehindTransactionPooler else { return "" }
        return sessionSettings.map { "; SET LOCAL \($0.0) = \($0.1)" }.joined()
    }

    /// `SET LOCAL` statements giving the rest of a transaction the configured timeouts (the
    /// server's default where none is configured).
    var restoreTimeoutsSQL: String {
        let statement = statementTimeout.map { String(Self.milliseconds($0)) } ?? "DEFAULT"
        let lock = lockTimeout.map { String(Self.milliseconds($0)) } ?? "DEFAULT"
        return "SET LOCAL statement_timeout = \(statement); SET LOCAL lock_timeout = \(lock)"
    }

    /// The client-side bound on one wait for the server (see `responseTimeout`).
    var effectiveResponseTimeout: Duration {
        if let responseTimeout { return responseTimeout }
        if let statementTimeout { return statementTimeout + .seconds(2) }
        return .seconds(30)
    }

    /// Whole milliseconds, at least 1 (PostgreSQL reads 0 as "no timeout").
    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let total = seconds.multipliedReportingOverflow(by: 1_000)
        guard !total.overflow else { return Int64(Int32.max) }
        // PostgreSQL's timeouts are ints of milliseconds.
        return min(Int64(Int32.max), max(1, total.partialValue + attoseconds / 1_000_000_000_000_000))
    }

    /// libpq splits `options` at spaces unless escaped with a backslash, and `\\` is a literal
    /// backslash (libpq docs, "options" parameter).
    static func escapeOptionValue(_ value: String) -> String {
        var escaped = ""
        for character in value {
            if character == "\\" || character == " " {
                escaped.append("\\")
            }
            escaped.append(character)
        }
        return escaped
    }
}

/// Validates a connection URL with libpq's own parser (`PQconninfoParse`, no network).
enum ConnectionInfoParser {
    static func problem(in url: String) -> String? {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let options = PQconninfoParse(url, &errorMessage)
        if let options {
            PQconninfoFree(options)
            if let errorMessage { PQfreemem(errorMessage) }
            return nil
        }
        guard let errorMessage else {
            return "libpq could not parse it (out of memory)"
        }
        let text = String(cString: errorMessage)
        PQfreemem(errorMessage)
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
