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
    public static let lockNotAvailable = SQLState(rawValue: "55P03")
    public static let queryCanceled = SQLState(rawValue: "57014")
    public static let adminShutdown = SQLState(rawValue: "57P01")
    public static let crashShutdown = SQLState(rawValue: "57P02")
    public static let cannotConnectNow = SQLState(rawValue: "57P03")

    /// The two-character class (`"23"` for integrity constraint violations).
    public var errorClass: String { String(rawValue.prefix(2)) }

    /// Whether the code says the session is gone or unusable: class 08 (connection exception)
    /// and 57P0x (the server is shutting down, crashed, or not accepting connections yet).
    public var isConnectionFailure: Bool {
        errorClass == "08" || rawValue.hasPrefix("57P0")
    }

    /// Whether running the whole transaction again may succeed (serialization failure, deadlock).
    public var isTransactionRetryable: Bool {
        self == .serializationFailure || self == .deadlockDetected
    }
}
