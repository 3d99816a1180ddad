/// The one error storage reports for "cannot answer now": the database is unreachable, has no
/// free connection, or did not answer within its bound. Every endpoint answers it with
/// `503 temporarily_unavailable` and `Retry-After`; nothing was changed.
///
/// Other storage failures (a constraint a caller should have prevented, a row that cannot be
/// decoded) are bugs and propagate as they are, ending as `500 server_error`.
public struct StorageUnavailable: Error, Sendable, CustomStringConvertible {
    /// What happened, for the operator's log (never a secret).
    public let detail: String
    public init(_ detail: String) { self.detail = detail }
    public var description: String { "storage unavailable: \(detail)" }
}

/// A value storage cannot hold (a character not in the database's encoding): the request is refused
/// as `invalid_request`; nothing was changed.
public struct StorageRejectedValue: Error, Sendable, CustomStringConvertible {
    public let detail: String
    public init(_ detail: String) { self.detail = detail }
    public var description: String { "storage rejected a value: \(detail)" }
}
