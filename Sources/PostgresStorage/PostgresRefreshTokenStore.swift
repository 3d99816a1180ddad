import Foundation
import OAuth
import Postgres

/// Refresh-token families and their rotating tokens in PostgreSQL (`refresh_token_families`,
/// `refresh_tokens`, `family_access_tokens`).
///
/// Every decision about a token is one transaction that locks the family row: of any number of
/// concurrent refreshes of one family, on any number of instances, they happen one after the
/// other, and one that fails or rolls back changes nothing (so it never counts as a use).
public struct PostgresRefreshTokenStore: RefreshTokenStore {
    public let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    // MARK: Creating

    /// Creates a family with its first token (generation 1) and the access token issued with it.
    static func create(_ new: NewRefreshFamily, accessToken: AccessTokenRecord, _ connection: PostgresConnection) throws {
        let family = new.family
        try connection.query("""
            INSERT INTO refresh_token_families (id, client_id, user_id, scopes, audiences, auth_time, sid, expires_at)
            VALUES (\(family.id), \(family.clientID), \(family.userID), \(family.scopes), \(family.audiences), \(family.authTime),
                \(family.sid), \(family.expiresAt))
            """)
        try connection.query("""
            INSERT INTO refresh_tokens (token_sha256, family_id, generation, expires_at)
            VALUES (\(new.tokenDigest), \(family.id), 1, \(new.tokenExpiresAt))
            """)
        try recordAccessToken(accessToken, familyID: family.id, connection)
    }

    static func recordAccessToken(_ token: AccessTokenRecord, familyID: UUID, _ connection: PostgresConnection) throws {
        try connection.query("""
            INSERT INTO family_access_tokens (jti, family_id, expires_at) VALUES (\(token.jti), \(familyID), \(token.expiresAt))
            """)
    }

    // MARK: Rotating

    /// Rotates the presented token (``RefreshTokenStore/rotate(_:)``).
    public func rotate(_ request: RefreshRotationRequest) async throws -> RefreshRotation {
        try await rotate(request, beforeCommit: nil)
    }

    /// ``rotate(_:)`` with `beforeCommit` run inside the transaction after every change (tests
    /// inject failures there, to show that a rotation that rolls back is not a use).
    public func rotate(_ request: RefreshRotationRequest, beforeCommit: (@Sendable () throws -> Void)?) async throws -> RefreshRotation {
        let tokenDigest = request.tokenDigest, clientID = request.clientID, successorDigest = request.successorDigest
        let requestedScope = request.requestedScope, idleLifetime = request.idleLifetime, grace = request.grace
        let accessToken = request.accessToken
        return try await pool.storageTransaction { connection -> RefreshRotation in
            // Lock the family first: every rotation of one family runs one after the other.
            let found = try connection.query("SELECT family_id FROM refresh_tokens WHERE token_sha256 = \(tokenDigest)")
            guard let tokenRow = found.first else { return .invalid(detail: "unknown refresh token") }
            let familyID = try tokenRow.decode("family_id", as: UUID.self)
            let families = try connection.query("""
                SELECT f.id, f.client_id, f.user_id, f.scopes, f.audiences, f.auth_time, f.sid, f.expires_at, f.revoked_at,
                    f.expires_at <= now() AS family_expired, u.disabled AS user_disabled, u.username
                FROM refresh_token_families f JOIN users u ON u.id = f.user_id WHERE f.id = \(familyID) FOR UPDATE OF f
                """)
            guard let familyRow = families.first else { return .invalid(detail: "family deleted") }
            var family = try Self.decodeFamily(familyRow)
            family.username = try familyRow.decode("username", as: String.self)
            // Re-read the token under the family lock: a concurrent rotation may have used it meanwhile.
            let locked = try connection.query("""
                SELECT generation, used_at, expires_at <= now() AS token_expired, extract(epoch FROM now() - used_at) AS since_use
                FROM refresh_tokens WHERE token_sha256 = \(tokenDigest)
                """)
            guard let token = locked.first else { return .invalid(detail: "token deleted") }
            // RFC 6749 §6: "the authorization server MUST ... validate the refresh token ... and ensure
            // that the refresh token was issued to the authenticated client". Another client's
            // attempt changes nothing.
            guard family.clientID == clientID else { return .invalid(detail: "family of client \(family.clientID) presented by \(clientID)") }
            if try familyRow.decode("revoked_at", as: Date?.self) != nil { return .invalid(detail: "family revoked") }
            if try familyRow.decode("family_expired", as: Bool.self) { return .invalid(detail: "family past its absolute lifetime") }
            // A disabled user's tokens stop working (enabling the user again brings them back).
            if try familyRow.decode("user_disabled", as: Bool.self) { return .invalid(detail: "user disabled") }
            let generation = try token.decode("generation", as: Int.self)
            if try token.decode("used_at", as: Date?.self) != nil {
                let sinceUse = try token.decode("since_use", as: Double?.self) ?? .infinity
                let successorRows = try connection.query("""
                    SELECT used_at, token_sha256 = \(successorDigest) AS is_derived FROM refresh_tokens
                    WHERE family_id = \(familyID) AND generation = \(generation + 1)
                    """)
                // The grace window: the same client retrying a rotation it may not have received gets
                // the same successor, as long as that successor has not been used itself.
                if grace > 0, sinceUse <= grace, let successor = successorRows.first,
                   try successor.decode("used_at", as: Date?.self) == nil, try successor.decode("is_derived", as: Bool.self) {
                    if let requestedScope, !requestedScope.isSubset(of: family.scope) { return .invalidScope }
                    try Self.recordAccessToken(accessToken, familyID: familyID, connection)
                    try beforeCommit?()
                    return .graceRetry(family)
                }
                // RFC 9700 §4.14.2: "If a refresh token is compromised and subsequently used by both the
                // attacker and the legitimate client, one of them will present an invalidated refresh
                // token, which will inform the authorization server of the breach" — the family is revoked.
                let revoked = try Self.revokeFamily(familyID, reason: "refresh token reused", connection)
                try beforeCommit?()
                return .reuseDetected(familyID: familyID, revoked: revoked)
            }
            if try token.decode("token_expired", as: Bool.self) { return .invalid(detail: "refresh token idle-expired") }
            if let requestedScope, !requestedScope.isSubset(of: family.scope) { return .invalidScope }
            try connection.query("UPDATE refresh_tokens SET used_at = now() WHERE token_sha256 = \(tokenDigest)")
            let successorExpiry = min(Date().addingTimeInterval(idleLifetime), family.expiresAt)
            try connection.query("""
                INSERT INTO refresh_tokens (token_sha256, family_id, generation, expires_at)
                VALUES (\(successorDigest), \(familyID), \(generation + 1), \(successorExpiry))
                """)
            try Self.recordAccessToken(accessToken, familyID: familyID, connection)
            try beforeCommit?()
            return .rotated(family)
        }
    }

    // MARK: Revoking

    /// The family of a refresh token and the client it belongs to, for the revocation endpoint.
    public func family(tokenDigest: [UInt8]) async throws -> (id: UUID, clientID: String)? {
        try await pool.storageConnection { connection in
            try connection.query("""
                SELECT f.id, f.client_id FROM refresh_tokens t JOIN refresh_token_families f ON f.id = t.family_id
                WHERE t.token_sha256 = \(tokenDigest)
                """).first.map { (try $0.decode("id", as: UUID.self), try $0.decode("client_id", as: String.self)) }
        }
    }

    /// The status of the refresh token with this hash, or nil when unknown.
    public func status(tokenDigest: [UInt8]) async throws -> RefreshTokenStatus? {
        try await pool.storageConnection { connection in
            let rows = try connection.query("""
                SELECT f.id, f.client_id, f.user_id, f.scopes, f.audiences, f.auth_time, f.sid, f.expires_at, u.username,
                    t.created_at AS token_created_at, least(t.expires_at, f.expires_at) AS token_expires_at,
                    (t.used_at IS NULL AND t.expires_at > now() AND f.expires_at > now() AND f.revoked_at IS NULL AND NOT u.disabled) AS active
                FROM refresh_tokens t JOIN refresh_token_families f ON f.id = t.family_id JOIN users u ON u.id = f.user_id
                WHERE t.token_sha256 = \(tokenDigest)
                """)
            guard let row = rows.first else { return nil }
            var family = try Self.decodeFamily(row)
            family.username = try row.decode("username", as: String.self)
            return RefreshTokenStatus(family: family, issuedAt: try row.decode("token_created_at", as: Date.self),
                               expiresAt: try row.decode("token_expires_at", as: Date.self), isActive: try row.decode("active", as: Bool.self))
        }
    }

    /// Revokes a family and every access token issued from it; returns the access tokens revoked now.
    @discardableResult
    public func revoke(familyID: UUID, reason: String) async throws -> [AccessTokenRecord] {
        try await pool.storageTransaction { connection in try Self.revokeFamily(familyID, reason: reason, connection) }
    }

    /// Revokes every live family of a user (optionally only for one client); returns how many.
    @discardableResult
    public func revokeFamilies(userID: UUID, clientID: String? = nil, reason: String) async throws -> Int {
        try await pool.storageTransaction { connection -> Int in
            let rows = clientID == nil
                ? try connection.query("SELECT id FROM refresh_token_families WHERE user_id = \(userID) AND revoked_at IS NULL FOR UPDATE")
                : try connection.query("""
                    SELECT id FROM refresh_token_families WHERE user_id = \(userID) AND client_id = \(clientID) AND revoked_at IS NULL FOR UPDATE
                    """)
            for row in rows { try Self.revokeFamily(try row.decode("id", as: UUID.self), reason: reason, connection) }
            return rows.count
        }
    }

    /// Revokes every live family issued in the login session `sid`; returns how many, and the access
    /// tokens revoked with them (so that the instance that ended the session knows them at once).
    @discardableResult
    public func revokeFamilies(sid: String, reason: String) async throws -> (families: Int, accessTokens: [AccessTokenRecord]) {
        try await pool.storageTransaction { connection in
            let rows = try connection.query("SELECT id FROM refresh_token_families WHERE sid = \(sid) AND revoked_at IS NULL FOR UPDATE")
            var revoked: [AccessTokenRecord] = []
            for row in rows { revoked += try Self.revokeFamily(try row.decode("id", as: UUID.self), reason: reason, connection) }
            return (rows.count, revoked)
        }
    }

    /// Marks the family revoked and lists its unexpired access tokens as revoked (each announced
    /// on `tessera_revocations`).
    @discardableResult
    static func revokeFamily(_ id: UUID, reason: String, _ connection: PostgresConnection) throws -> [AccessTokenRecord] {
        let updated = try connection.query("""
            UPDATE refresh_token_families SET revoked_at = now(), revoked_reason = \(reason) WHERE id = \(id) AND revoked_at IS NULL
            """).affectedRows
        guard updated == 1 else { return [] }
        let tokens = try connection.query("SELECT jti, expires_at FROM family_access_tokens WHERE family_id = \(id) AND expires_at > now()")
        var revoked: [AccessTokenRecord] = []
        for token in tokens {
            let jti = try token.decode("jti", as: String.self), expiresAt = try token.decode("expires_at", as: Date.self)
            try PostgresLoginStore.revoke(jti: jti, expiresAt: expiresAt, reason: reason, connection)
            revoked.append(AccessTokenRecord(jti: jti, expiresAt: expiresAt))
        }
        return revoked
    }

    static func decodeFamily(_ row: PostgresRow) throws -> RefreshTokenFamily {
        RefreshTokenFamily(
            id: try row.decode("id", as: UUID.self), clientID: try row.decode("client_id", as: String.self),
            userID: try row.decode("user_id", as: UUID.self), scopes: try row.decode("scopes", as: [String].self),
            audiences: try row.decode("audiences", as: [String].self), authTime: try row.decode("auth_time", as: Date.self),
            sid: try row.decode("sid", as: String?.self), expiresAt: try row.decode("expires_at", as: Date.self))
    }
}
