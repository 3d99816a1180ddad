import Foundation
import OAuth
import Postgres

/// The browser login's state in PostgreSQL: login sessions, pending authorization requests
/// (interactions), remembered consent, authorization codes and revoked access tokens.
///
/// Secrets held by browsers and clients (session ids, interaction ids, codes) arrive here
/// as their ``TokenDigest``; nothing in these tables can be replayed.
public struct PostgresLoginStore: LoginSessionStore, InteractionStore, ConsentStore, AuthorizationCodeStore, RevocationStore {
    public let pool: PostgresPool

    /// The channel on which revocations of access tokens are announced; the payload is the `jti`.
    public static let revocationChannel = "tessera_revocations"

    public init(pool: PostgresPool) { self.pool = pool }

    // MARK: Sessions

    /// Stores a new session under the hash of its cookie value.
    public func createSession(_ session: LoginSession, digest: [UInt8]) async throws {
        _ = try await pool.storageConnection { connection in
            try connection.query("""
                INSERT INTO login_sessions (id_sha256, sid, user_id, auth_time, expires_at)
                VALUES (\(digest), \(session.sid), \(session.userID), \(session.authTime), \(session.expiresAt))
                """)
        }
    }

    /// The live session with this cookie hash and its user; nil when unknown, ended or expired.
    public func session(digest: [UInt8]) async throws -> (session: LoginSession, user: User)? {
        try await pool.storageConnection { connection in
            let rows = try connection.query(PostgresQuery(unsafeSQL: """
                SELECT s.sid, s.user_id, s.auth_time, s.expires_at, \(Self.userColumns)
                FROM login_sessions s JOIN users u ON u.id = s.user_id
                WHERE s.id_sha256 = $1 AND s.expires_at > now()
                """, binds: [digest.postgresBind]))
            guard let row = rows.first else { return nil }
            let session = LoginSession(sid: try row.decode("sid", as: String.self), userID: try row.decode("user_id", as: UUID.self),
                                       authTime: try row.decode("auth_time", as: Date.self), expiresAt: try row.decode("expires_at", as: Date.self))
            return (session, try PostgresUserStore.decode(row))
        }
    }

    /// Ends the session with this cookie hash; returns its `sid` when there was one.
    @discardableResult
    public func endSession(digest: [UInt8]) async throws -> String? {
        try await pool.storageConnection { connection in
            try connection.query("DELETE FROM login_sessions WHERE id_sha256 = \(digest) RETURNING sid")
                .first.map { try $0.decode("sid", as: String.self) }
        }
    }

    /// Ends every session of a user; returns how many there were.
    @discardableResult
    public func endSessions(userID: UUID) async throws -> Int {
        try await pool.storageConnection { connection in
            try connection.query("DELETE FROM login_sessions WHERE user_id = \(userID)").affectedRows
        }
    }

    // MARK: Interactions

    public func createInteraction(digest: [UInt8], browserDigest: [UInt8], request: AuthorizationRequest, expiresAt: Date) async throws {
        let json = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        _ = try await pool.storageConnection { connection in
            try connection.query("""
                INSERT INTO authorization_interactions (id_sha256, browser_sha256, client_id, request, expires_at)
                VALUES (\(digest), \(browserDigest), \(request.clientID), \(json)::jsonb, \(expiresAt))
                """)
        }
    }

    /// The unexpired interaction with this id hash, or nil.
    public func interaction(digest: [UInt8]) async throws -> StoredInteraction? {
        try await pool.storageConnection { connection in
            let rows = try connection.query("""
                SELECT browser_sha256, request::text AS request, user_id, session_sha256, expires_at
                FROM authorization_interactions WHERE id_sha256 = \(digest) AND expires_at > now()
                """)
            guard let row = rows.first else { return nil }
            let text = try row.decode("request", as: String.self)
            let request: AuthorizationRequest
            do { request = try JSONDecoder().decode(AuthorizationRequest.self, from: Data(text.utf8)) } catch {
                throw PostgresError(kind: .decoding, message: "authorization interaction: unreadable request")
            }
            return StoredInteraction(browserDigest: try row.decode("browser_sha256", as: [UInt8].self), request: request,
                               userID: try row.decode("user_id", as: UUID?.self), sessionDigest: try row.decode("session_sha256", as: [UInt8]?.self),
                               expiresAt: try row.decode("expires_at", as: Date.self))
        }
    }

    /// Records who signed in during the interaction.
    public func attachLogin(interactionDigest: [UInt8], userID: UUID, sessionDigest: [UInt8]) async throws {
        _ = try await pool.storageConnection { connection in
            try connection.query("""
                UPDATE authorization_interactions SET user_id = \(userID), session_sha256 = \(sessionDigest)
                WHERE id_sha256 = \(interactionDigest)
                """)
        }
    }

    /// Ends an interaction; true when this call ended it (so that one interaction completes once).
    @discardableResult
    public func finishInteraction(digest: [UInt8]) async throws -> Bool {
        try await pool.storageConnection { connection in
            try connection.query("DELETE FROM authorization_interactions WHERE id_sha256 = \(digest)").affectedRows == 1
        }
    }

    // MARK: Consent

    /// The scopes the user has allowed the client, or an empty scope.
    public func consentedScope(userID: UUID, clientID: String) async throws -> Scope {
        try await pool.storageConnection { connection in
            let rows = try connection.query("SELECT scopes FROM consents WHERE user_id = \(userID) AND client_id = \(clientID)")
            return Scope(try rows.first?.decode("scopes", as: [String].self) ?? [])
        }
    }

    /// Adds `scope` to what the user has allowed the client.
    public func grantConsent(userID: UUID, clientID: String, scope: Scope) async throws {
        let scopes = scope.tokens.sorted()
        _ = try await pool.storageConnection { connection in
            try connection.query("""
                INSERT INTO consents (user_id, client_id, scopes) VALUES (\(userID), \(clientID), \(scopes))
                ON CONFLICT (user_id, client_id) DO UPDATE
                SET scopes = ARRAY(SELECT DISTINCT unnest(consents.scopes || EXCLUDED.scopes) ORDER BY 1), updated_at = now()
                """)
        }
    }

    // MARK: Authorization codes

    public func createCode(_ code: AuthorizationCode, digest: [UInt8]) async throws {
        _ = try await pool.storageConnection { connection in
            try connection.query("""
                INSERT INTO authorization_codes (code_sha256, client_id, user_id, redirect_uri, code_challenge, scopes, audiences,
                    nonce, sid, auth_time, expires_at)
                VALUES (\(digest), \(code.clientID), \(code.userID), \(code.redirectURI), \(code.codeChallenge), \(code.scopes),
                    \(code.audiences), \(code.nonce), \(code.sid), \(code.authTime), \(code.expiresAt))
                """)
        }
    }

    /// Redeems a code at most once (``AuthorizationCodeStore/redeemCode(_:)``) in one round trip:
    /// the whole transaction is the function `tessera_redeem_code` (migration 0008), called in one
    /// statement, which locks the code row first, so of concurrent redemptions exactly one sees it
    /// unredeemed.
    public func redeemCode(_ request: CodeRedemptionRequest) async throws -> CodeRedemption {
        let family = request.refreshFamily
        return try await pool.storageConnection { connection in
            let rows = try connection.query("""
                SELECT * FROM tessera_redeem_code(\(request.codeDigest), \(request.clientID), \(request.redirectURI),
                    \(request.verifierChallenge), \(request.accessToken.jti), \(request.accessToken.expiresAt),
                    \(family?.id), \(family?.expiresAt), \(family?.tokenDigest), \(family?.tokenExpiresAt))
                """)
            guard let row = rows.first else { throw PostgresError(kind: .protocolViolation, message: "the redemption function returned no row") }
            switch try row.decode("outcome", as: String.self) {
            case "not_found":
                return .notFound
            case "expired":
                return .expired
            case "rejected":
                return .rejected(detail: try row.decode("detail", as: String?.self) ?? "refused")
            case "already_redeemed":
                let jtis = try row.decode("revoked_jtis", as: [String].self)
                let expiries = try row.decode("revoked_expires_at", as: [String].self).map { Double($0) ?? 0 }
                return .alreadyRedeemed(revoked: zip(jtis, expiries).map { AccessTokenRecord(jti: $0, expiresAt: Date(timeIntervalSince1970: $1)) })
            default:
                return .redeemed(AuthorizationCode(
                    clientID: try row.decode("client_id", as: String.self), userID: try row.decode("user_id", as: UUID.self),
                    redirectURI: try row.decode("redirect_uri", as: String.self), codeChallenge: try row.decode("code_challenge", as: String.self),
                    scopes: try row.decode("scopes", as: [String].self), audiences: try row.decode("audiences", as: [String].self),
                    nonce: try row.decode("nonce", as: String?.self), sid: try row.decode("sid", as: String.self),
                    authTime: try row.decode("auth_time", as: Date.self), expiresAt: try row.decode("expires_at", as: Date.self)))
            }
        }
    }

    // MARK: Revoked access tokens

    /// Revokes the access token `jti` until `expiresAt` and announces it on ``revocationChannel``.
    public func revokeAccessToken(jti: String, expiresAt: Date, reason: String) async throws {
        try await pool.storageTransaction { connection in
            try Self.revoke(jti: jti, expiresAt: expiresAt, reason: reason, connection)
        }
    }

    /// Every revocation whose tokens may not have expired yet: revoked `jti`s and principals.
    public func unexpiredRevocations() async throws -> RevocationSet {
        try await pool.storageConnection { connection in
            var revoked = RevocationSet()
            for row in try connection.query("SELECT jti, expires_at FROM revoked_access_tokens WHERE expires_at > now()") {
                revoked.revoke(jti: try row.decode("jti", as: String.self), expiresAt: Int64(try row.decode("expires_at", as: Date.self).timeIntervalSince1970))
            }
            for row in try connection.query("SELECT kind, principal, issued_before, expires_at FROM revoked_principals WHERE expires_at > now()") {
                let name = try row.decode("principal", as: String.self)
                let cutoff = RevocationSet.PrincipalCutoff(issuedBefore: try row.decode("issued_before", as: Int64.self),
                                                           expiresAt: Int64(try row.decode("expires_at", as: Date.self).timeIntervalSince1970))
                switch try row.decode("kind", as: String.self) {
                case "client": revoked.revoke(.client(name), cutoff: cutoff)
                case "user": revoked.revoke(.user(name), cutoff: cutoff)
                default: continue
                }
            }
            return revoked
        }
    }

    /// Whether the access token `jti` is revoked by its id.
    public func isAccessTokenRevoked(jti: String) async throws -> Bool {
        try await pool.storageConnection { connection in
            try connection.query("SELECT 1 FROM revoked_access_tokens WHERE jti = \(jti)").count == 1
        }
    }

    /// Whether the token these claims describe is revoked, by its `jti` or with its client or user.
    public func isAccessTokenRevoked(_ claims: AccessTokenClaims) async throws -> Bool {
        try await pool.storageConnection { connection in
            try connection.query("""
                SELECT 1 FROM revoked_access_tokens WHERE jti = \(claims.jwtID)
                UNION ALL
                SELECT 1 FROM revoked_principals
                WHERE ((kind = 'client' AND principal = \(claims.clientID)) OR (kind = 'user' AND principal = \(claims.subject)))
                    AND issued_before >= \(claims.issuedAt)
                LIMIT 1
                """).count == 1
        }
    }

    /// Revokes every access token of `principal` issued up to now (and in the second after it, for
    /// tokens another instance issued before it heard of the change), and announces it on
    /// ``revocationChannel``. Runs inside the transaction that disables or deletes the principal.
    static func revoke(_ principal: RevokedPrincipal, reason: String, _ connection: PostgresConnection) throws {
        let lifetime = Int(AccessTokenIssuer.maximumLifetime + AccessTokenVerifier.clockSkew)
        let rows = try connection.query("""
            INSERT INTO revoked_principals (kind, principal, issued_before, expires_at, reason)
            VALUES (\(principal.kind), \(principal.name), floor(extract(epoch FROM now()))::bigint + 1,
                now() + make_interval(secs => \(lifetime + 1)), \(reason))
            ON CONFLICT (kind, principal) DO UPDATE SET
                issued_before = greatest(revoked_principals.issued_before, EXCLUDED.issued_before),
                expires_at = greatest(revoked_principals.expires_at, EXCLUDED.expires_at),
                revoked_at = now(), reason = EXCLUDED.reason
            RETURNING issued_before
            """)
        guard let issuedBefore = try rows.first?.decode("issued_before", as: Int64.self) else { return }
        try connection.query(.notify(revocationChannel, payload: RevocationSet.announcement(principal, issuedBefore: issuedBefore)))
    }

    static func revoke(jti: String, expiresAt: Date, reason: String, _ connection: PostgresConnection) throws {
        let inserted = try connection.query("""
            INSERT INTO revoked_access_tokens (jti, expires_at, reason) VALUES (\(jti), \(expiresAt), \(reason))
            ON CONFLICT (jti) DO NOTHING
            """).affectedRows
        if inserted == 1 { try connection.query(.notify(revocationChannel, payload: jti)) }
    }

    static let userColumns = "u.id, u.username, u.email, u.email_verified, u.name, u.disabled, u.created_at, u.updated_at, u.password_changed_at"
}
