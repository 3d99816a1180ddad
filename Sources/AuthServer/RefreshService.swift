import Foundation
import OAuth
import Postgres
import PostgresStorage

/// Refresh tokens for this instance: the store, the key successors are derived with, and the
/// server's default lifetimes.
final class RefreshService: Sendable {
    let store: PostgresRefreshTokenStore
    /// Derives each token's successor (``RefreshTokenGrant/successor(of:key:)``); the same on every
    /// instance that shares the key-encryption key.
    let successorKey: [UInt8]
    let defaultIdleLifetime: TimeInterval
    let defaultAbsoluteLifetime: TimeInterval
    /// Runs inside every rotation transaction after its changes (tests inject failures; nil in production).
    let beforeCommit: (@Sendable () throws -> Void)?

    init(pool: PostgresPool, kek: KeyEncryptionKey, idleLifetime: TimeInterval, absoluteLifetime: TimeInterval,
         beforeCommit: (@Sendable () throws -> Void)? = nil) {
        store = PostgresRefreshTokenStore(pool: pool)
        successorKey = kek.derivedKey(purpose: "refresh token successors")
        defaultIdleLifetime = idleLifetime
        defaultAbsoluteLifetime = absoluteLifetime
        self.beforeCommit = beforeCommit
    }

    /// The client's policy: its own lifetimes where set, the server's otherwise.
    func policy(for client: Client) -> RefreshPolicy {
        RefreshPolicy(idleLifetime: client.refreshIdleLifetime ?? defaultIdleLifetime,
                      absoluteLifetime: client.refreshAbsoluteLifetime ?? defaultAbsoluteLifetime, grace: client.refreshGrace)
    }
}
