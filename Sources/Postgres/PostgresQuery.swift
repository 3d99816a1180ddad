/// SQL text with its parameters kept apart: interpolated values become `$1`, `$2`, … binds.
///
/// ```swift
/// let rows = try connection.query("SELECT name FROM clients WHERE id = \(clientID)")
/// ```
/// Only string literals and interpolated `PostgresEncodable` values can form a query; SQL
/// assembled from strings at run time must go through `init(unsafeSQL:binds:)`.
public struct PostgresQuery: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public var sql: String
    public var binds: [PostgresBind]
    /// The format results are requested in. Text (the default) works for every type; binary
    /// is also decoded for the types this module supports.
    public var resultFormat: PostgresFormat = .text

    /// A query from SQL text that may have come from anywhere: the caller vouches that it
    /// contains no untrusted values (those belong in `binds`, referenced as `$1`, `$2`, …).
    public init(unsafeSQL: String, binds: [PostgresBind] = []) {
        self.sql = unsafeSQL
        self.binds = binds
    }

    public init(stringLiteral value: String) {
        self.init(unsafeSQL: value)
    }

    public init(stringInterpolation: StringInterpolation) {
        self.init(unsafeSQL: stringInterpolation.sql, binds: stringInterpolation.binds)
    }

    /// The SQL and the bind types only: values are never printed (they may be secrets).
    public var description: String {
        "\(sql) [\(binds.count) bind(s)]"
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var binds: [PostgresBind] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
            binds.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        /// Appends `$n` and binds the value as parameter n.
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value) {
            binds.append(value.postgresBind)
            sql += "$\(binds.count)"
        }

        /// Appends `$n` and binds the value, or NULL, as parameter n.
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value?) {
            binds.append(value.postgresBind)
            sql += "$\(binds.count)"
        }
    }
}
