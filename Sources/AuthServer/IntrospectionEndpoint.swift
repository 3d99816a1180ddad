import Foundation
import HTTPServer
import JOSE
import OAuth

/// `POST /introspect` (RFC 7662): resource servers ask whether a token is active and what it says.
///
/// The caller authenticates as a client registered with `--introspect-audiences`; it sees only
/// tokens whose `aud` includes one of those audiences (and refresh tokens issued to itself).
/// Everything else — expired, revoked, malformed, foreign, another audience's — is exactly
/// `{"active":false}`. Access tokens are checked without a database round trip: the signature or
/// seal, the expiry, and the in-memory revocation set (``RevocationService``).
struct IntrospectionEndpoint: Sendable {
    let clients: ClientService
    let keys: KeyService
    let verifier: AccessTokenVerifier
    let revocations: RevocationService
    let usernames: UsernameCache
    let refreshTokens: any RefreshTokenStore
    let logger: Logger
    let audit: AuditLog
    let limits: RateLimits

    static let path = "/introspect"
    static let inactive = Array("{\"active\":false}".utf8)

    func introspect(_ request: HTTPRequest) async -> HTTPResponse {
        await ErrorResponses.json("introspection", request, logger: logger, authorizationScheme: TokenEndpoint.authorizationScheme(request)) {
            try await handle(request)
        }
    }

    /// The answer on the event-loop thread when everything it needs is in memory: the caller's secret
    /// already verified, the token's seal or signature, the synchronised revocation set, and (for a
    /// user's JWT) a cached username. Anything else (an error to report, a refresh token, a cache miss)
    /// returns nil and takes ``introspect(_:)``, which answers the same.
    func introspectImmediately(_ request: HTTPRequest) -> HTTPResponse? {
        guard request.method == .POST, request.hasFormBody, let form = try? TokenRequest(body: request.body),
              let token = form["token"], !RefreshTokenGrant.isWellFormed(token),
              let authenticated = clients.authenticateImmediately(request, form: form), authenticated.method != .none else { return nil }
        let caller = authenticated.client
        guard !caller.introspectableAudiences.isEmpty,
              // A refused take consumes nothing: the asynchronous path then refuses, audited.
              limits.introspection.take(caller.id) == nil else { return nil }
        let now = Int64(Date().timeIntervalSince1970)
        guard let claims = verifier.verify(token, keys: keys.current.ring.publishedKeys, now: now),
              claims.audience.contains(where: caller.introspectableAudiences.contains) else {
            return HTTPResponse(status: .ok, headers: ErrorResponses.noStoreJSON, body: Self.inactive)
        }
        guard let isRevoked = revocations.isRevokedImmediately(claims) else { return nil }
        if isRevoked { return HTTPResponse(status: .ok, headers: ErrorResponses.noStoreJSON, body: Self.inactive) }
        var username = claims.username
        if username == nil && claims.subject != claims.clientID {
            guard let cached = usernames.cachedUsername(subject: claims.subject) else { return nil }
            username = cached
        }
        return HTTPResponse(status: .ok, headers: ErrorResponses.noStoreJSON,
                            body: Array(Self.activeJSON(claims, username: username, tokenType: "Bearer").utf8))
    }

    private func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        // RFC 7662 §2.1: "The protected resource calls the introspection endpoint using an HTTP POST request".
        let form = try ClientService.form(request, endpoint: "introspection")
        let authenticated = try await clients.authenticate(request, form: form, audit: audit)
        let caller = authenticated.client
        // RFC 7662 §2.1: "the endpoint MUST also require some form of authorization to access this
        // endpoint": a confidential client registered with the audiences it may introspect. A public
        // client proves nothing, so it fails authentication.
        guard authenticated.method != .none else {
            throw OAuthError(.invalidClient, ClientAuthenticator.failureDescription, detail: "public client \(caller.id) cannot introspect",
                             isRedirectable: false)
        }
        try limits.enforce(limits.introspection, key: caller.id)
        guard let token = form["token"] else { throw OAuthError.invalidRequest("The token parameter is missing.") }
        // RFC 7662 §2.2: "If the introspection call is properly authorized but ... the protected resource is
        // not allowed to introspect this particular token, then the authorization server MUST return an
        // introspection response with the "active" field set to "false"". A client whose credentials are
        // right but that may introspect no audience is told nothing, and is not told its credentials failed.
        guard !caller.introspectableAudiences.isEmpty else {
            logger.info("introspection by a client without introspect audiences", ["client_id": caller.id, "remote": request.remoteAddress])
            return HTTPResponse(status: .ok, headers: ErrorResponses.noStoreJSON, body: Self.inactive)
        }
        let body = try await answer(token, caller: caller)
        return HTTPResponse(status: .ok, headers: ErrorResponses.noStoreJSON, body: body)
    }

    /// The response body for `token` as `caller` may see it.
    private func answer(_ token: String, caller: Client) async throws -> [UInt8] {
        if RefreshTokenGrant.isWellFormed(token) {
            return try await refreshTokenAnswer(token, caller: caller)
        }
        let now = Int64(Date().timeIntervalSince1970)
        guard let claims = verifier.verify(token, keys: keys.current.ring.publishedKeys, now: now),
              // Audience scoping: a resource server sees only tokens meant for an audience it may see.
              claims.audience.contains(where: caller.introspectableAudiences.contains),
              try await !revocations.isRevoked(claims) else { return Self.inactive }
        var username = claims.username
        if username == nil && claims.subject != claims.clientID {
            do {
                username = try await usernames.username(subject: claims.subject)
            } catch is StorageUnavailable {
                // During a database outage the answer is still given, without the optional username.
                username = nil
            }
        }
        return Array(Self.activeJSON(claims, username: username, tokenType: "Bearer").utf8)
    }

    /// A refresh token is active only to the client it was issued to, while its family is live
    /// and it has not been rotated.
    private func refreshTokenAnswer(_ token: String, caller: Client) async throws -> [UInt8] {
        guard let status = try await refreshTokens.status(tokenDigest: TokenDigest.of(token)),
              status.family.clientID == caller.id, status.isActive else { return Self.inactive }
        let family = status.family
        let claims = AccessTokenClaims(
            issuer: verifier.issuer, subject: family.userID.uuidString.lowercased(), audience: family.audiences, clientID: family.clientID,
            scope: family.scope, issuedAt: Int64(status.issuedAt.timeIntervalSince1970), expiresAt: Int64(status.expiresAt.timeIntervalSince1970),
            jwtID: "", username: family.username)
        return Array(Self.activeJSON(claims, username: family.username, tokenType: "refresh_token").utf8)
    }

    /// RFC 7662 §2.2: `active`, then `scope`, `client_id`, `username`, `token_type`, `exp`, `iat`,
    /// `sub`, `aud`, `iss`, `jti`.
    static func activeJSON(_ claims: AccessTokenClaims, username: String?, tokenType: String) -> String {
        let audience = claims.audience.count == 1
            ? JSONText.string(claims.audience[0])
            : "[" + claims.audience.map(JSONText.string).joined(separator: ",") + "]"
        var members = "{\"active\":true,\"scope\":\(JSONText.string(claims.scope.description)),\"client_id\":\(JSONText.string(claims.clientID))"
        if let username { members += ",\"username\":\(JSONText.string(username))" }
        members += ",\"token_type\":\(JSONText.string(tokenType)),\"exp\":\(claims.expiresAt),\"iat\":\(claims.issuedAt)"
            + ",\"sub\":\(JSONText.string(claims.subject)),\"aud\":\(audience),\"iss\":\(JSONText.string(claims.issuer))"
        if !claims.jwtID.isEmpty { members += ",\"jti\":\(JSONText.string(claims.jwtID))" }
        return members + "}"
    }
}
