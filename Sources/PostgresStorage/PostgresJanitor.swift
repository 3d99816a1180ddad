import Foundation
import Postgres

/// Deletes what has expired, in small batches, one instance at a time.
///
/// Tables of codes, sessions, refresh tokens and revocations would otherwise grow without bound.
/// Each pass takes a session advisory lock with `pg_try_advisory_lock`: while one instance sweeps,
/// the others skip their turn. Each batch is one short statement over an indexed `expires_at`,
/// so a sweep never holds many row locks or a long transaction.
public struct PostgresJanitor: Sendable {
    public let pool: PostgresPool
    /// Rows deleted per statement.
    public let batchSize: Int

    /// The advisory lock key of the sweep ("tessera janitor").
    public static let lockID: Int64 = 0x7465_7373_6a61_6e69

    public init(pool: PostgresPool, batchSize: Int = 500) {
        self.pool = pool
        self.batchSize = max(1, batchSize)
    }

    /// What each sweep deletes: a table and the condition of an expired row.
    static let targets: [(table: String, expired: String)] = [
        ("authorization_interactions", "expires_at <= now()"),
        ("login_sessions", "expires_at <= now()"),
        // A redeemed code is kept while the access token issued from it lives, so that a replay still revokes it.
        ("authorization_codes", "expires_at <= now() AND (access_token_expires_at IS NULL OR access_token_expires_at <= now())"),
        ("refresh_tokens", "expires_at <= now()"),
        ("family_access_tokens", "expires_at <= now()"),
        // A family ends at its absolute expiry; a revoked one a day after its revocation (its tokens go with it).
        ("refresh_token_families", "expires_at <= now() OR revoked_at <= now() - interval '1 day'"),
        ("revoked_access_tokens", "expires_at <= now()"),
        ("revoked_principals", "expires_at <= now()"),
        ("client_assertion_ids", "expires_at <= now()"),
        ("client_secrets", "expires_at <= now()"),
    ]

    /// One sweep; nil when another instance holds the lock. Otherwise the rows deleted per table.
    public func sweep() async throws -> [String: Int]? {
        let batchSize = batchSize
        return try await pool.withConnection { connection -> [String: Int]? in
            let locked = try connection.query("SELECT pg_try_advisory_lock(\(Self.lockID)) AS locked").first?.decode("locked", as: Bool.self) ?? false
            guard locked else { return nil }
            defer { _ = try? connection.query("SELECT pg_advisory_unlock(\(Self.lockID))") }
            var deleted: [String: Int] = [:]
            for target in Self.targets {
                var total = 0
                while true {
                    let count = try connection.query(PostgresQuery(unsafeSQL: """
                        DELETE FROM \(target.table) WHERE ctid = ANY(ARRAY(
                            SELECT ctid FROM \(target.table) WHERE \(target.expired) LIMIT \(batchSize)))
                        """)).affectedRows
                    total += count
                    if count < batchSize { break }
                }
                if total > 0 { deleted[target.table] = total }
            }
            return deleted
        }
    }
}
