import Foundation
import OAuth
import Postgres

/// Refresh-token families and their rotating tokens in PostgreSQL (`refresh_token_families`,
/// `refresh_tokens`, `family_access_tokens`).
///
/// Every decision about a token is one transaction that locks the family row: of any number of
/// concurrent refreshes of one family, on any number of instances, they happen one after the
/// other, and one that fails or rolls back changes nothing (so it never counts as a use).
public struct PostgresRefreshTokenStore: Sendable {
    public let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    /// A family about to be created, with its first token.
    public struct NewFamily: Sendable {
        public var family: RefreshTokenFamily
        public var tokenHash: [UInt8]
        public var tokenExpiresAt: Date
        public init(family: RefreshTokenFamily, tokenHash: [UInt8], tokenExpiresAt: Date) {
            self.family = family
            self.tokenHash = tokenHash
            self.tokenExpiresAt = tokenExpiresAt
        }
    }

    /// The access token a rotation issues, recorded with the family so that revoking it revokes the token.
    public struct IssuedAccessToken: Sendable {
        public var jti: String
        public var expiresAt: Date
        public init(jti: String, expiresAt: Date) {
            self.jti = jti
            self.expiresAt = expiresAt
        }
    }

    // MARK: Creating

    /// Creates a family with its first token (generation 1) and the access token issued with it.
    static func create(_ new: NewFamily, accessToken: IssuedAccessToken, _ connection: PostgresConnection) throws {
        let family = new.family
        try connection.query("""
            INSERT INTO refresh_token_families (id, client_id, user_id, scopes, audiences, auth_time, sid, expires_at)
            VALUES (\(family.id), \(family.clientID), \(family.userID), \(family.scopes), \(family.audiences), \(family.authTime),
                \(family.sid), \(family.expiresAt))
            """)
        try connection.query("""
            INSERT INTO refresh_tokens (token_sha256, family_id, generation, expires_at)
            VALUES (\(new.tokenHash), \(family.id), 1, \(new.tokenExpiresAt))
            """)
        try recordAccessToken(accessToken, familyID: family.id, connection)
    }

    static func recordAccessToken(_ token: IssuedAccessToken, familyID: UUID, _ connection: PostgresConnection) throws {
        try connection.query("""
            INSERT INTO family_access_tokens (jti, family_id, expires_at) VALUES (\(token.jti), \(familyID), \(token.expiresAt))
            """)
    }

    // MARK: Rotating

    /// Rotates the token with hash `tokenHash` for `clientID`.
    ///
    /// - Parameters:
    ///   - successorHash: the hash of the successor (derived from the presented token, so a
    ///     grace-window retry finds the same one).
    ///   - requestedScope: checked against the family's scope before anything changes.
    ///   - idleLifetime: the successor expires this long from now (never after the family).
    ///   - grace: the client's grace window (0: any reuse revokes).
    ///   - beforeCommit: runs inside the transaction after every change (tests inject failures here).
    public func rotate(tokenHash: [UInt8], clientID: String, successorHash: [UInt8], requestedScope: Scope?,
                       idleLifetime: TimeInterval, grace: TimeInterval, accessToken: IssuedAccessToken,
                       beforeCommit: (@Sendable () throws -> Void)? = nil) async throws -> RefreshRotation {
        try await pool.transaction { connection -> RefreshRotation in
            // Lock the family first: every rotation of one family runs one after the other.
            let found = try connection.query("SELECT family_id FROM refresh_tokens WHERE token_sha256 = \(tokenHash)")
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
                FROM refresh_tokens WHERE token_sha256 = \(tokenHash)
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
                    SELECT used_at, token_sha256 = \(successorHash) AS is_derived FROM refresh_tokens
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
                try Self.revokeFamily(familyID, reason: "refresh token reused", connection)
                try beforeCommit?()
                return .reuseDetected(familyID: familyID)
            }
            if try token.decode("token_expired", as: Bool.self) { return .invalid(detail: "refresh token idle-expired") }
            if let requestedScope, !requestedScope.isSubset(of: family.scope) { return .invalidScope }
            try connection.query("UPDATE refresh_tokens SET used_at = now() WHERE token_sha256 = \(tokenHash)")
            let successorExpiry = min(Date().addingTimeInterval(idleLifetime), family.expiresAt)
            try connection.query("""
                INSERT INTO refresh_tokens (token_sha256, family_id, generation, expires_at)
                VALUES (\(successorHash), \(familyID), \(generation + 1), \(successorExpiry))
                """)
            try Self.recordAccessToken(accessToken, familyID: familyID, connection)
            try beforeCommit?()
            return .rotated(family)
        }
    }

    // MARK: Revoking

    /// The family of a refresh token and the client it belongs to, for the revocation endpoint.
    public func family(tokenHash: [UInt8]) async throws -> (id: UUID, clientID: String)? {
        try await pool.withConnection { connection in
            try connection.query("""
                SELECT f.id, f.client_id FROM refresh_tokens t JOIN refresh_token_families f ON f.id = t.family_id
                WHERE t.token_sha256 = \(tokenHash)
                """).first.map { (try $0.decode("id", as: UUID.self), try $0.decode("client_id", as: String.self)) }
        }
    }

    /// What introspection needs to know of a refresh token.
    public struct TokenStatus: Sendable {
        public var family: RefreshTokenFamily
        public var issuedAt: Date
        public var expiresAt: Date
        /// Unused, unexpired, in a live family of an enabled user.
        public var isActive: Bool
    }

    /// The status of the refresh token with this hash, or nil when unknown.
    public func status(tokenHash: [UInt8]) async throws -> TokenStatus? {
        try await pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT f.id, f.client_id, f.user_id, f.scopes, f.audiences, f.auth_time, f.sid, f.expires_at, u.username,
                    t.created_at AS token_created_at, least(t.expires_at, f.expires_at) AS token_expires_at,
                    (t.used_at IS NULL AND t.expires_at > now() AND f.expires_at > now() AND f.revoked_at IS NULL AND NOT u.disabled) AS active
                FROM refresh_tokens t JOIN refresh_token_families f ON f.id = t.family_id JOIN users u ON u.id = f.user_id
                WHERE t.token_sha256 = \(tokenHash)
                """)
            guard let row = rows.first else { return nil }
            var family = try Self.decodeFamily(row)
            family.username = try row.decode("username", as: String.self)
            return TokenStatus(family: family, issuedAt: try row.decode("token_created_at", as: Date.self),
                               expiresAt: try row.decode("token_expires_at", as: Date.self), isActive: try row.decode("active", as: Bool.self))
        }
    }

    /// Revokes a family and every access token issued from it; returns the access tokens revoked now.
    @discardableResult
    public func revoke(familyID: UUID, reason: String) async throws -> [(jti: String, expiresAt: Date)] {
        try await pool.transaction { connection in try Self.revokeFamily(familyID, reason: reason, connection) }
    }

    /// The unexpired access tokens issued from a family.
    public func accessTokens(familyID: UUID) async throws -> [(jti: String, expiresAt: Date)] {
        try await pool.withConnection { connection in
            try connection.query("SELECT jti, expires_at FROM family_access_tokens WHERE family_id = \(familyID) AND expires_at > now()")
                .map { (try $0.decode("jti", as: String.self), try $0.decode("expires_at", as: Date.self)) }
        }
    }

    /// Revokes every live family of a user (optionally only for one client); returns how many.
    @discardableResult
    public func revokeFamilies(userID: UUID, clientID: String? = nil, reason: String) async throws -> Int {
        try await pool.transaction { connection -> Int in
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
    public func revokeFamilies(sid: String, reason: String) async throws -> (families: Int, accessTokens: [RevokedAccessToken]) {
        try await pool.transaction { connection in
            let rows = try connection.query("SELECT id FROM refresh_token_families WHERE sid = \(sid) AND revoked_at IS NULL FOR UPDATE")
            var revoked: [RevokedAccessToken] = []
            for row in rows {
                revoked += try Self.revokeFamily(try row.decode("id", as: UUID.self), reason: reason, connection)
                    .map { RevokedAccessToken(jti: $0.jti, expiresAt: $0.expiresAt) }
            }
            return (rows.count, revoked)
        }
    }

    /// Marks the family revoked and lists its unexpired access tokens as revoked (each announced
    /// on `tessera_revocations`).
    @discardableResult
    static func revokeFamily(_ id: UUID, reason: String, _ connection: PostgresConnection) throws -> [(jti: String, expiresAt: Date)] {
        let updated = try connection.query("""
            UPDATE refresh_token_families SET revoked_at = now(), revoked_reason = \(reason) WHERE id = \(id) AND revoked_at IS NULL
            """).affectedRows
        guard updated == 1 else { return [] }
        let tokens = try connection.query("SELECT jti, expires_at FROM family_access_tokens WHERE family_id = \(id) AND expires_at > now()")
        var revoked: [(jti: String, expiresAt: Date)] = []
        for token in tokens {
            let jti = try token.decode("jti", as: String.self), expiresAt = try token.decode("expires_at", as: Date.self)
            try PostgresLoginStore.revoke(jti: jti, expiresAt: expiresAt, reason: reason, connection)
            revoked.append((jti, expiresAt))
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
