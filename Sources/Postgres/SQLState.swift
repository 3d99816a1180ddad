/// A five-character SQLSTATE code reported by the PostgreSQL server.
///
/// See PostgreSQL's "Appendix A. PostgreSQL Error Codes".
public struct SQLState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    public static let uniqueViolation = SQLState(rawValue: "23505")
    public static let foreignKeyViolation = SQLState(rawValue: "23503")
    public static let checkViolation = SQLState(rawValue: "23514")
    public static let notNullViolation = SQLState(rawValue: "23502")
    public static let serializationFailure = SQLState(rawValue: "40001")
    public static let deadlockDetected = SQLState(rawValue: "40P01")
    public static let undefinedTable = SQLState(rawValue: "42P01")
    public static let readOnlySQLTransaction = SQLState(rawValue: "25006")
    public static let lockNotAvailable = SQLState(rawValue: "55P03")
    public static let queryCanceled = SQLState(rawValue: "57014")
    public static let adminShutdown = SQLState(rawValue: "57P01")
    public static let crashShutdown = SQLState(rawValue: "57P02")
    public static let cannotConnectNow = SQLState(rawValue: "57P03")

    /// The two-character class (`"23"` for integrity constraint violations).
    public var errorClass: String { String(rawValue.prefix(2)) }

    /// Whether the code says the session is gone or unusable: class 08 (connection exception),
    /// 57P0x (the server is shutting down, crashed, or not accepting connections yet), and 25006
    /// (a write on a read-only server: after a failover the session is on a demoted primary, and
    /// a new connection finds the new one).
    public var isConnectionFailure: Bool {
        errorClass == "08" || rawValue.hasPrefix("57P0") || self == .readOnlySQLTransaction
    }

    /// Whether the server gave up waiting: `statement_timeout` or a cancel (57014), or
    /// `lock_timeout` (55P03).
    public var isTimeout: Bool {
        self == .queryCanceled || self == .lockNotAvailable
    }

    /// Whether running the whole transaction again may succeed (serialization failure, deadlock).
    public var isTransactionRetryable: Bool {
        self == .serializationFailure || self == .deadlockDetected
    }
}
