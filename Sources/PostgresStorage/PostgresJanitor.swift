import Foundation
import OAuth
import Postgres

/// Deletes what has expired, in small batches, one instance at a time.
///
/// Tables of codes, sessions, refresh tokens and revocations would otherwise grow without bound.
/// Each batch holds a transaction advisory lock; a sweep starts only if `pg_try_advisory_xact_lock`
/// gets it at once, so while one instance sweeps, the others skip their turn. Each batch is one short statement over an
/// indexed `expires_at`, so a sweep never holds many row locks or a long transaction.
public struct PostgresJanitor: ExpiredRecordSweeper {
    public let pool: PostgresPool
    /// Rows deleted per statement.
    public let batchSize: Int

    /// The advisory lock of the sweep, scoped to the deployment's schema.
    public static let lockKey = AdvisoryLock.key("tessera janitor")

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
        return try await pool.storageConnection { connection -> [String: Int]? in
            var deleted: [String: Int] = [:]
            var isFirstBatch = true
            for target in Self.targets {
                var total = 0
                while true {
                    // Each batch is a short transaction holding the lock: a transaction-scoped lock
                    // is no session state, so it also holds through a transaction-mode pooler. The
                    // first batch only tries (another instance sweeping means skip this turn); later
                    // ones wait for it, which is at most another instance's batch.
                    let isFirst = isFirstBatch
                    let count: Int? = try connection.transaction { connection in
                        if isFirst {
                            let locked = try connection.query(PostgresQuery(unsafeSQL: "SELECT pg_try_advisory_xact_lock(\(Self.lockKey)) AS locked"))
                                .first?.decode("locked", as: Bool.self) ?? false
                            guard locked else { return nil }
                        } else {
                            try connection.query(PostgresQuery(unsafeSQL: "SELECT pg_advisory_xact_lock(\(Self.lockKey))"))
                        }
                        return try connection.query(PostgresQuery(unsafeSQL: """
                            DELETE FROM \(target.table) WHERE ctid = ANY(ARRAY(
                                SELECT ctid FROM \(target.table) WHERE \(target.expired) LIMIT \(batchSize)))
                            """)).affectedRows
                    }
                    // Another instance sweeps: skip this turn.
                    guard let count else { return nil }
                    isFirstBatch = false
                    total += count
                    if count < batchSize { break }
                }
                if total > 0 { deleted[target.table] = total }
            }
            return deleted
        }
    }
}
