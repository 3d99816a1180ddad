import OAuth
import Postgres

/// The one place PostgreSQL's failures become storage's: every store runs its statements through
/// these, so that "cannot answer now" reaches the protocol layer as ``StorageUnavailable`` and
/// nothing above this module needs to know PostgreSQL's error kinds.
extension PostgresPool {
    /// ``PostgresPool/withConnection(_:)`` with PostgreSQL failures mapped by ``PostgresError/asStorageError``.
    func storageConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        do {
            return try await withConnection(body)
        } catch let error as PostgresError {
            throw error.asStorageError
        }
    }

    /// ``PostgresPool/transaction(isolation:maxAttempts:_:)`` with PostgreSQL failures mapped by ``PostgresError/asStorageError``.
    func storageTransaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        do {
            return try await transaction(body)
        } catch let error as PostgresError {
            throw error.asStorageError
        }
    }
}

extension PostgresError {
    /// Unreachable, broken, no free connection, a bound passed, or closed: ``StorageUnavailable``.
    /// A value the database cannot hold as text (SQLSTATE 22021 character not in repertoire,
    /// 22P05 untranslatable character): ``StorageRejectedValue``. Anything else stays as it is.
    public var asStorageError: any Error {
        if isUnavailable { return StorageUnavailable("\(self)") }
        if sqlState == SQLState(rawValue: "22021") || sqlState == SQLState(rawValue: "22P05") { return StorageRejectedValue("\(self)") }
        return self
    }
}

/// Advisory locks scoped to the deployment: the key mixes a fixed name with the schema the tables
/// live in, so that deployments (or test suites) sharing one database in different schemas never
/// wait for, or skip a turn because of, each other's lock.
enum AdvisoryLock {
    /// SQL for the lock key of `name` in the session's current schema (a bigint from an MD5).
    static func key(_ name: String) -> String {
        "('x' || substr(md5('\(name) ' || current_schema()), 1, 16))::bit(64)::bigint"
    }
}
