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
    /// libpq's backslash escaping; it is never part of SQL text.
    public var searchPath: String?

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
        // Decoders read text results in UTF-8 and timestamps in ISO style: pin both.
        parameters.append(("client_encoding", "UTF8"))
        var options = "-c datestyle=ISO,MDY"
        if let searchPath {
            options += " -c search_path=" + Self.escapeOptionValue(searchPath)
        }
        parameters.append(("options", options))
        return parameters
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
