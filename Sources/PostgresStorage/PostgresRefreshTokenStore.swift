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

    // MARK: Rotating

    /// Rotates the presented token (``RefreshTokenStore/rotate(_:)``) in one round trip: the whole
    /// transaction is the function `tessera_rotate_refresh_token` (migration 0008), called in one
    /// statement, which locks the family row first, so concurrent rotations of one family happen one
    /// after the other and one that fails changes nothing.
    public func rotate(_ request: RefreshRotationRequest) async throws -> RefreshRotation {
        try await pool.storageConnection { connection in try Self.decodeRotation(try connection.query(Self.rotation(request))) }
    }

    /// ``rotate(_:)`` inside an explicit transaction with `beforeCommit` run after the rotation and
    /// before the commit (tests inject failures there, to show that a rotation that rolls back is
    /// not a use).
    public func rotate(_ request: RefreshRotationRequest, beforeCommit: (@Sendable () throws -> Void)?) async throws -> RefreshRotation {
        guard let beforeCommit else { return try await rotate(request) }
        return try await pool.storageTransaction { connection -> RefreshRotation in
            let rotation = try Self.decodeRotation(try connection.query(Self.rotation(request)))
            try beforeCommit()
            return rotation
        }
    }

    static func rotation(_ request: RefreshRotationRequest) -> PostgresQuery {
        let scopes = request.requestedScope.map { $0.tokens.sorted() }
        return """
            SELECT * FROM tessera_rotate_refresh_token(\(request.tokenDigest), \(request.clientID), \(request.successorDigest),
                \(scopes)::text[], \(request.idleLifetime)::double precision, \(request.grace)::double precision,
                \(request.accessToken.jti), \(request.accessToken.expiresAt))
            """
    }

    static func decodeRotation(_ rows: PostgresRows) throws -> RefreshRotation {
        guard let row = rows.first else { throw PostgresError(kind: .protocolViolation, message: "the rotation function returned no row") }
        func family() throws -> RefreshTokenFamily {
            var family = RefreshTokenFamily(
                id: try row.decode("family_id", as: UUID.self), clientID: try row.decode("client_id", as: String.self),
                userID: try row.decode("user_id", as: UUID.self), scopes: try row.decode("scopes", as: [String].self),
                audiences: try row.decode("audiences", as: [String].self), authTime: try row.decode("auth_time", as: Date.self),
                sid: try row.decode("sid", as: String?.self), expiresAt: try row.decode("expires_at", as: Date.self))
            family.username = try row.decode("username", as: String?.self)
            return family
        }
        switch try row.decode("outcome", as: String.self) {
        case "rotated": return .rotated(try family())
        case "grace_retry": return .graceRetry(try family())
        case "reuse_detected":
            let jtis = try row.decode("revoked_jtis", as: [String].self)
            let expiries = try row.decode("revoked_expires_at", as: [String].self).map { Double($0) ?? 0 }
            return .reuseDetected(familyID: try row.decode("family_id", as: UUID.self),
                                  revoked: zip(jtis, expiries).map { AccessTokenRecord(jti: $0, expiresAt: Date(timeIntervalSince1970: $1)) })
        case "invalid_scope": return .invalidScope
        default: return .invalid(detail: try row.decode("detail", as: String?.self) ?? "refused")
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
