import Foundation
import HTTPServer
import JOSE
import OAuth
import PostgresStorage

/// `POST /revoke` (RFC 7009): a client revokes one of its tokens.
///
/// A refresh token revokes its whole family (and the access tokens issued from it); an access
/// token is revoked alone, by its `jti`, until it would have expired. An unknown, expired or
/// malformed token is answered 200 like a revoked one (RFC 7009 §2.2: "invalid tokens do not
/// cause an error response"); another client's token is refused and left as it is.
struct RevocationEndpoint: Sendable {
    let clients: ClientService
    let keys: KeyService
    let verifier: AccessTokenVerifier
    let loginStore: PostgresLoginStore
    let refreshTokens: PostgresRefreshTokenStore
    let logger: Logger
    let audit: AuditLog
    let metrics: Metrics
    let limits: RateLimits
    let revocations: RevocationService

    static let path = "/revoke"

    func revoke(_ request: HTTPRequest) async -> HTTPResponse {
        do {
            return try await handle(request)
        } catch {
            let mapped = OAuthErrorResponse.map(error)
            logger.info("revocation refused", ["error": mapped.code.rawValue, "detail": mapped.detail ?? "", "remote": request.remoteAddress])
            return OAuthErrorResponse.response(for: error, authorizationScheme: TokenEndpoint.authorizationScheme(request))
        }
    }

    private func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        // RFC 7009 §2.1: "The client requests the revocation ... by sending ... an HTTP POST request".
        let form = try ClientService.form(request, endpoint: "revocation")
        let client = try await clients.authenticate(request, form: form, audit: audit).client
        try limits.enforce(limits.revocation, key: client.id)
        guard let token = form["token"] else { throw OAuthError.invalidRequest("The token parameter is missing.") }
        // RFC 7009 §2.1: the hint only speeds up the lookup; "If the server is unable to locate the
        // token using the given hint, it MUST extend its search across all of its supported token types."
        if RefreshTokenGrant.isWellFormed(token) {
            try await revokeRefreshToken(token, client: client)
        } else {
            try await revokeAccessToken(token, client: client)
        }
        return HTTPResponse(status: .ok, headers: HTTPHeaders([("Cache-Control", "no-store"), ("Pragma", "no-cache")]))
    }

    private func revokeRefreshToken(_ token: String, client: Client) async throws {
        guard let family = try await refreshTokens.family(tokenHash: AuthorizationCode.hash(token)) else { return }
        try Self.checkOwner(family.clientID, client)
        revocations.didRevoke(try await refreshTokens.revoke(familyID: family.id, reason: "revoked by the client"))
        audit.record(.familyRevoked, ["client_id": client.id, "family": family.id.uuidString.lowercased(), "reason": "revoked by the client"])
        metrics.revoked("family")
    }

    private func revokeAccessToken(_ token: String, client: Client) async throws {
        let now = Int64(Date().timeIntervalSince1970)
        // An expired or foreign token needs nothing: it is not valid anywhere.
        guard let claims = verifier.verify(token, keys: keys.current.ring.publishedKeys, now: now) else { return }
        try Self.checkOwner(claims.clientID, client)
        let expiresAt = Date(timeIntervalSince1970: TimeInterval(claims.expiresAt))
        try await loginStore.revokeAccessToken(jti: claims.jwtID, expiresAt: expiresAt, reason: "revoked by the client")
        revocations.didRevoke([(claims.jwtID, expiresAt)])
        audit.record(.tokenRevoked, ["client_id": client.id, "jti": claims.jwtID])
        metrics.revoked("access_token")
    }

    /// RFC 7009 §2.1: the server "verifies whether the token was issued to the client making the
    /// revocation request. If this validation fails, the request is refused".
    static func checkOwner(_ owner: String, _ client: Client) throws(OAuthError) {
        guard owner == client.id else {
            throw OAuthError(.unauthorizedClient, "The token was not issued to this client.", detail: "token of \(owner) presented by \(client.id)")
        }
    }
}
