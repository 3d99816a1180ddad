import Foundation
import OAuth
import Postgres

/// What can go wrong when changing a user.
public enum UserStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The username (compared whatever its case) is taken.
    case alreadyExists(String)
    /// No user has this username or id.
    case notFound(String)

    public var description: String {
        switch self {
        case .alreadyExists(let username): return "a user named '\(username)' already exists (usernames are compared whatever their case)"
        case .notFound(let user): return "no user '\(user)'"
        }
    }
}

/// Users and their password hashes in PostgreSQL (`users`). Every change sends
/// `NOTIFY tessera_users` with the user id, so every instance can drop what it cached
/// about that user at once.
///
/// Usernames are looked up whatever their case; the unique index on
/// `lower(username COLLATE "C")` keeps two users from differing only in case.
public struct PostgresUserStore: UserStore {
    public let pool: PostgresPool

    /// The channel instances listen on for user changes; the payload is the user id.
    public static let channel = "tessera_users"

    public init(pool: PostgresPool) { self.pool = pool }

    static let columns = "id, username, email, email_verified, name, disabled, created_at, updated_at, password_changed_at"

    // MARK: Reading

    /// The user with this username, whatever its case.
    public func user(username: String) async throws -> User? {
        try await pool.storageConnection { connection in try Self.user(username: username, connection)?.user }
    }

    /// The user with this id (`sub`).
    public func user(id: UUID) async throws -> User? {
        try await pool.storageConnection { connection in
            try connection.query(PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM users WHERE id = $1", binds: [id.postgresBind]))
                .first.map(Self.decode)
        }
    }

    /// Every user, by username.
    public func list() async throws -> [User] {
        try await pool.storageConnection { connection in
            try connection.query(PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM users ORDER BY lower(username COLLATE \"C\"), username"))
                .map(Self.decode)
        }
    }

    /// The user with this username (whatever its case) and the Argon2id hash of their
    /// password, for the login page; disabled users are returned too, and the caller refuses them.
    /// When there is no such user the caller should still verify the password against a
    /// dummy hash, so that the time taken does not tell which usernames exist.
    public func credentials(username: String) async throws -> (user: User, passwordHash: String)? {
        try await pool.storageConnection { connection in try Self.user(username: username, connection) }
    }

    // MARK: Changing

    /// Stores `user` (with its id) and the hash of its password; the timestamps become now.
    public func create(_ user: User, passwordHash: String) async throws {
        do {
            try await pool.storageTransaction { connection in
                try connection.query("""
                    INSERT INTO users (id, username, password_hash, email, email_verified, name, disabled)
                    VALUES (\(user.id), \(user.username), \(passwordHash), \(user.email), \(user.isEmailVerified), \(user.name), \(user.isDisabled))
                    """)
                try Self.notify(user.id, connection)
            }
        } catch let error as PostgresError where error.sqlState == .uniqueViolation {
            throw UserStoreError.alreadyExists(user.username)
        }
    }

    /// Replaces the username, email, name and disabled state of `user.id` (not the password);
    /// `updated_at` becomes now. A username taken by another user is refused.
    public func update(_ user: User) async throws {
        let changed: Bool
        do {
            changed = try await pool.storageTransaction { connection -> Bool in
                let rows = try connection.query("""
                    UPDATE users SET username = \(user.username), email = \(user.email), email_verified = \(user.isEmailVerified),
                        name = \(user.name), disabled = \(user.isDisabled), updated_at = now()
                    WHERE id = \(user.id)
                    """)
                guard rows.affectedRows == 1 else { return false }
                if user.isDisabled { try PostgresLoginStore.revoke(.user(user.subject), reason: "user disabled", connection) }
                try Self.notify(user.id, connection)
                return true
            }
        } catch let error as PostgresError where error.sqlState == .uniqueViolation {
            throw UserStoreError.alreadyExists(user.username)
        }
        guard changed else { throw UserStoreError.notFound(user.subject) }
    }

    /// Makes `hash` the user's password hash; `password_changed_at` and `updated_at` become now.
    public func setPassword(id: UUID, hash: String) async throws {
        try await change(id, "UPDATE users SET password_hash = \(hash), password_changed_at = now(), updated_at = now() WHERE id = \(id)")
    }

    /// Disables or enables the user; disabling revokes the user's unexpired access tokens on every instance.
    public func setDisabled(id: UUID, _ disabled: Bool) async throws {
        try await change(id, "UPDATE users SET disabled = \(disabled), updated_at = now() WHERE id = \(id)",
                         revoking: disabled ? "user disabled" : nil)
    }

    /// Deletes the user (with their sessions, consents and refresh tokens); their access tokens stop being active.
    public func delete(id: UUID) async throws {
        try await change(id, "DELETE FROM users WHERE id = \(id)", revoking: "user deleted")
    }

    /// Runs `query`, which changes at most the row of `id`, and notifies when it did; with
    /// `revoking`, the user's access tokens issued until now are revoked for that reason.
    func change(_ id: UUID, _ query: PostgresQuery, revoking reason: String? = nil) async throws {
        let found = try await pool.storageTransaction { connection -> Bool in
            guard try connection.query(query).affectedRows == 1 else { return false }
            if let reason { try PostgresLoginStore.revoke(.user(id.uuidString.lowercased()), reason: reason, connection) }
            try Self.notify(id, connection)
            return true
        }
        guard found else { throw UserStoreError.notFound(id.uuidString.lowercased()) }
    }

    // MARK: Rows

    static func notify(_ id: UUID, _ connection: PostgresConnection) throws {
        try connection.query(.notify(channel, payload: id.uuidString.lowercased()))
    }

    static func user(username: String, _ connection: PostgresConnection) throws -> (user: User, passwordHash: String)? {
        // The same expression as the unique index, so that the lookup uses it.
        let query = PostgresQuery(
            unsafeSQL: "SELECT \(columns), password_hash FROM users WHERE lower(username COLLATE \"C\") = lower($1::text COLLATE \"C\")",
            binds: [username.postgresBind])
        guard let row = try connection.query(query).first else { return nil }
        return (try decode(row), try row.decode("password_hash", as: String.self))
    }

    static func decode(_ row: PostgresRow) throws -> User {
        User(
            id: try row.decode("id", as: UUID.self), username: try row.decode("username", as: String.self),
            email: try row.decode("email", as: String?.self), isEmailVerified: try row.decode("email_verified", as: Bool.self),
            name: try row.decode("name", as: String?.self), isDisabled: try row.decode("disabled", as: Bool.self),
            createdAt: try row.decode("created_at", as: Date.self), updatedAt: try row.decode("updated_at", as: Date.self),
            passwordChangedAt: try row.decode("password_changed_at", as: Date.self))
    }
}
