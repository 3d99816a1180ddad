/// An error from the PostgreSQL client: the server's error fields when it sent some,
/// otherwise a description of what failed on our side.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Hashable {
        /// Connecting failed, or the connection broke while in use.
        case connection
        /// The server answered with an error (see `sqlState`).
        case server
        /// A result value could not be decoded into the requested Swift type.
        case decoding
        /// No connection became free: too many waiters, or the acquire timeout passed.
        case poolExhausted
        /// A bound on a database wait passed: the server's `statement_timeout` or `lock_timeout`
        /// (SQLSTATE 57014 or 55P03 in `sqlState`), or the client-side response deadline, after
        /// which the statement is cancelled. Nothing the statement did is committed.
        case timedOut
        /// The pool or listener was closed.
        case closed
        /// Something the wire protocol or this client cannot express (for example COPY,
        /// or a text parameter containing a NUL byte).
        case protocolViolation
    }

    public var kind: Kind
    public var sqlState: SQLState?
    /// The primary message (the server's `M` field when it sent one).
    public var message: String
    /// The server's `D` field: may contain row values, so log it but never send it to clients.
    public var detail: String?
    /// The server's `H` field.
    public var hint: String?
    /// The name of the violated constraint, for integrity errors (the server's `n` field).
    public var constraint: String?

    public init(
        kind: Kind, sqlState: SQLState? = nil, message: String, detail: String? = nil,
        hint: String? = nil, constraint: String? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
    }

    /// Whether the connection this happened on is gone: retrying on a fresh connection may work.
    public var isConnectionFailure: Bool {
        kind == .connection || (sqlState?.isConnectionFailure ?? false)
    }

    /// Whether the database could not be used at all right now: unreachable or broken
    /// (`isConnectionFailure`), no free connection (`.poolExhausted`), a bound that passed
    /// (`.timedOut`), or the client closed (`.closed`). Trying again later may succeed.
    public var isUnavailable: Bool {
        isConnectionFailure || kind == .poolExhausted || kind == .timedOut || kind == .closed
    }

    public var description: String {
        var text: String
        switch kind {
        case .connection: text = "PostgreSQL connection error"
        case .server: text = "PostgreSQL error"
        case .decoding: text = "PostgreSQL decoding error"
        case .poolExhausted: text = "PostgreSQL pool exhausted"
        case .timedOut: text = "PostgreSQL timeout"
        case .closed: text = "PostgreSQL client closed"
        case .protocolViolation: text = "PostgreSQL protocol error"
        }
        if let sqlState { text += " \(sqlState.rawValue)" }
        text += ": \(message)"
        if let detail { text += " (detail: \(detail))" }
        if let hint { text += " (hint: \(hint))" }
        return text
    }

    static func decoding(_ message: String) -> PostgresError {
        PostgresError(kind: .decoding, message: message)
    }
}
