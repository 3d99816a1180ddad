import Foundation
import HTTPServer
import JOSE
import OAuth
import PostgresStorage

/// `POST /token` (RFC 6749 §3.2): client authentication, then the grant.
struct TokenEndpoint: Sendable {
    let clients: ClientService
    let keys: KeyService
    let issuer: AccessTokenIssuer
    let login: BrowserLogin
    let refresh: RefreshService
    /// ID-token lifetime in seconds.
    let idTokenLifetime: Int64
    let logger: Logger
    let audit: AuditLog
    let metrics: Metrics
    let limits: RateLimits
    let revocations: RevocationService

    static let path = "/token"

    /// The grant types this server implements; discovery lists the same.
    static let supportedGrantTypes: [Client.GrantType] = [.authorizationCode, .clientCredentials, .refreshToken]

    func token(_ request: HTTPRequest) async -> HTTPResponse {
        let scheme = Self.authorizationScheme(request)
        do {
            // An address whose requests keep failing (guessing secrets, codes or refresh tokens) is slowed down.
            try limits.check(limits.tokenFailures, key: SourceAddressKey.of(request.remoteAddress))
            return try await handle(request)
        } catch let limited as RateLimited {
            return OAuthErrorResponse.rateLimited(limited)
        } catch {
            let oauthError = OAuthErrorResponse.map(error)
            log(oauthError, request)
            if oauthError.code != .serverError && oauthError.code != .temporarilyUnavailable {
                _ = limits.tokenFailures.take(SourceAddressKey.of(request.remoteAddress))
            }
            return OAuthErrorResponse.response(oauthError, authorizationScheme: scheme, retryAfter: (error as? ThrottledFailure)?.retryAfter)
        }
    }

    private func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        // RFC 6749 §3.2: "The client MUST use the HTTP "POST" method when making access token requests",
        // with parameters "using the "application/x-www-form-urlencoded" format" (§4.4.2).
        let form = try ClientService.form(request, endpoint: "token")
        guard let grantTypeName = form["grant_type"] else {
            throw OAuthError.invalidRequest("The grant_type parameter is missing.")
        }
        guard let grantType = Client.GrantType(rawValue: grantTypeName), Self.supportedGrantTypes.contains(grantType) else {
            throw OAuthError(.unsupportedGrantType, "The grant type is not supported.", detail: "grant_type \(grantTypeName.prefix(64))")
        }
        let authenticated = try await clients.authenticate(request, form: form, audit: audit)
        let client = authenticated.client
        try limits.enforce(limits.token, key: client.id)
        // RFC 6749 §5.2 unauthorized_client: "The authenticated client is not authorized to use this authorization grant type."
        guard client.grantTypes.contains(grantType) else {
            throw OAuthError(.unauthorizedClient, "The client is not allowed to use this grant type.",
                             detail: "client \(client.id) lacks \(grantType.rawValue)")
        }
        switch grantType {
        case .clientCredentials:
            let scope = try ClientCredentialsGrant.scope(requested: form["scope"], client: client)
            let audience = try ClientCredentialsGrant.audience(resources: form.resources, audience: form["audience"], client: client)
            // RFC 6749 §4.4.3: "A refresh token SHOULD NOT be included."
            let issued = try issuer.issue(client: client, subject: client.id, scope: scope, audience: audience, ring: keys.current.ring, now: Date())
            audit.record(.tokenIssued, ["client_id": client.id, "grant_type": grantType.rawValue, "sub": client.id, "jti": issued.claims.jwtID,
                                        "aud": audience.joined(separator: " ")])
            metrics.tokenIssued(grantType: grantType.rawValue)
            return HTTPResponse(status: .ok, headers: OAuthErrorResponse.noStoreJSON, body: Array(issued.responseJSON().utf8))
        case .authorizationCode:
            return try await redeem(form, client: client)
        case .refreshToken:
            return try await refresh(form, client: client)
        }
    }

    /// The authorization-code grant (RFC 6749 §4.1.3): redeem the code once, check it, issue
    /// the access token, the refresh token when the grant includes one, and for OpenID
    /// requests the ID token.
    private func redeem(_ form: TokenRequest, client: Client) async throws -> HTTPResponse {
        let (code, redirectURI, verifier) = try AuthorizationCodeGrant.parameters(form)
        let now = Date()
        let issuedAt = now.timeIntervalSince1970.rounded(.down)
        // What will be issued is fixed before the redemption commits and recorded with it, so
        // that a replay of the code can revoke it.
        let jwtID = AccessTokenIssuer.newJWTID()
        let accessToken = PostgresRefreshTokenStore.IssuedAccessToken(
            jti: jwtID, expiresAt: Date(timeIntervalSince1970: issuedAt + TimeInterval(issuer.lifetime(for: client))))
        let refreshToken = RefreshTokenGrant.newToken()
        let policy = refresh.policy(for: client)
        let redemption = try await login.store.redeemCode(hash: AuthorizationCode.hash(code)) { code in
            do throws(OAuthError) {
                try AuthorizationCodeGrant.check(code, client: client, redirectURI: redirectURI, verifier: verifier)
            } catch {
                return .failure(error)
            }
            var family: PostgresRefreshTokenStore.NewFamily?
            if RefreshTokenGrant.isIssued(to: client, scope: code.scope) {
                let expiresAt = now.addingTimeInterval(policy.absoluteLifetime)
                family = PostgresRefreshTokenStore.NewFamily(
                    family: RefreshTokenFamily(clientID: client.id, userID: code.userID, scopes: code.scopes, audiences: code.audiences,
                                               authTime: code.authTime, sid: code.sid, expiresAt: expiresAt),
                    tokenHash: AuthorizationCode.hash(refreshToken), tokenExpiresAt: min(now.addingTimeInterval(policy.idleLifetime), expiresAt))
            }
            return .success(PostgresLoginStore.RedemptionPlan(accessToken: accessToken, refreshFamily: family))
        }
        let record: AuthorizationCode
        switch redemption {
        case .redeemed(let redeemed):
            record = redeemed
        case .rejected(let error):
            // The code is consumed now, whatever the request was.
            throw error
        case .alreadyRedeemed(let revoked):
            audit.record(.codeReused, ["client_id": client.id])
            // What the code issued is revoked in the same transaction; this instance knows at once.
            revocations.didRevoke(revoked.map { ($0.jti, $0.expiresAt) })
            metrics.revoked("code_reuse")
            throw AuthorizationCodeGrant.failure("code already redeemed")
        case .expired:
            throw AuthorizationCodeGrant.failure("code expired")
        case .notFound:
            throw AuthorizationCodeGrant.failure("unknown code")
        }
        guard let user = try await login.users.user(id: record.userID), !user.isDisabled else {
            throw AuthorizationCodeGrant.failure("user \(record.userID) deleted or disabled")
        }
        let includesRefresh = RefreshTokenGrant.isIssued(to: client, scope: record.scope)
        return try respond(client: client, subject: user.subject, username: user.username, scope: record.scope, audiences: record.audiences, jwtID: jwtID, now: now,
                           refreshToken: includesRefresh ? refreshToken : nil,
                           idToken: record.scope.contains("openid") ? (authTime: record.authTime, nonce: record.nonce, sid: record.sid) : nil,
                           grantType: "authorization_code")
    }

    /// The refresh-token grant (RFC 6749 §6): rotate the presented token, issue a new access
    /// token (and ID token for OpenID families, keeping `auth_time`).
    private func refresh(_ form: TokenRequest, client: Client) async throws -> HTTPResponse {
        guard let presented = form["refresh_token"] else { throw OAuthError.invalidRequest("The refresh_token parameter is missing.") }
        let requested = try form["scope"].map { text throws(OAuthError) in try Scope(parsing: text) }
        guard RefreshTokenGrant.isWellFormed(presented) else { throw RefreshTokenGrant.failure("malformed refresh token") }
        let now = Date()
        let issuedAt = now.timeIntervalSince1970.rounded(.down)
        let jwtID = AccessTokenIssuer.newJWTID()
        let successor = RefreshTokenGrant.successor(of: presented, key: refresh.successorKey)
        let policy = refresh.policy(for: client)
        let rotation = try await refresh.store.rotate(
            tokenHash: AuthorizationCode.hash(presented), clientID: client.id, successorHash: AuthorizationCode.hash(successor),
            requestedScope: requested, idleLifetime: policy.idleLifetime, grace: policy.grace,
            accessToken: .init(jti: jwtID, expiresAt: Date(timeIntervalSince1970: issuedAt + TimeInterval(issuer.lifetime(for: client)))),
            beforeCommit: refresh.beforeCommit)
        let family: RefreshTokenFamily
        switch rotation {
        case .rotated(let rotated):
            family = rotated
        case .graceRetry(let retried):
            audit.record(.refreshGraceRetry, ["client_id": client.id, "family": retried.id.uuidString.lowercased()])
            family = retried
        case .reuseDetected(let familyID):
            audit.record(.refreshReuseDetected, ["client_id": client.id, "family": familyID.uuidString.lowercased()])
            audit.record(.familyRevoked, ["client_id": client.id, "family": familyID.uuidString.lowercased(), "reason": "refresh token reused"])
            metrics.refreshReuseDetected()
            if let revoked = try? await refresh.store.accessTokens(familyID: familyID) { revocations.didRevoke(revoked) }
            metrics.revoked("family")
            throw RefreshTokenGrant.failure("reuse of a rotated refresh token")
        case .invalid(let detail):
            throw RefreshTokenGrant.failure(detail)
        case .invalidScope:
            throw OAuthError(.invalidScope, "The requested scope exceeds the scope originally granted.")
        }
        // A disabled user cannot refresh: rotate refused it; a deleted user's families are gone with them.
        let scope = requested ?? family.scope
        return try respond(client: client, subject: family.userID.uuidString.lowercased(), username: family.username, scope: scope, audiences: family.audiences, jwtID: jwtID, now: now,
                           refreshToken: successor,
                           idToken: family.scope.contains("openid") && scope.contains("openid") ? (authTime: family.authTime, nonce: nil, sid: family.sid) : nil,
                           grantType: "refresh_token")
    }

    /// The token response: the access token in the client's format, the refresh token and the ID token when given.
    private func respond(client: Client, subject: String, username: String?, scope: Scope, audiences: [String], jwtID: String, now: Date, refreshToken: String?,
                         idToken idTokenClaims: (authTime: Date, nonce: String?, sid: String?)?, grantType: String) throws -> HTTPResponse {
        let ring = keys.current.ring
        let issued = try issuer.issue(client: client, subject: subject, scope: scope, audience: audiences, ring: ring, now: now, jwtID: jwtID,
                                      username: username)
        var idToken: String?
        if let idTokenClaims {
            guard let key = ring.signingKey(for: client.idTokenSigningAlgorithm) else {
                throw OAuthError(.temporarilyUnavailable, "No signing key is available yet; try again shortly.",
                                 detail: "no active \(client.idTokenSigningAlgorithm.rawValue) key")
            }
            let claims = IDTokenClaims(
                issuer: issuer.issuer, subject: subject, audience: client.id, issuedAt: issued.claims.issuedAt,
                expiresAt: issued.claims.issuedAt + idTokenLifetime, authTime: Int64(idTokenClaims.authTime.timeIntervalSince1970.rounded(.down)),
                nonce: idTokenClaims.nonce, accessTokenHash: IDTokenClaims.accessTokenHash(issued.token), sessionID: idTokenClaims.sid)
            idToken = try claims.sign(key: key)
        }
        audit.record(.tokenIssued, ["client_id": client.id, "grant_type": grantType, "sub": subject, "jti": jwtID,
                                    "aud": audiences.joined(separator: " "), "refresh_token": refreshToken == nil ? "no" : "yes"])
        metrics.tokenIssued(grantType: grantType)
        return HTTPResponse(status: .ok, headers: OAuthErrorResponse.noStoreJSON,
                            body: Array(issued.responseJSON(refreshToken: refreshToken, idToken: idToken).utf8))
    }

    private func log(_ error: OAuthError, _ request: HTTPRequest) {
        var fields: KeyValuePairs<String, String> { ["error": error.code.rawValue, "detail": error.detail ?? "", "remote": request.remoteAddress] }
        switch error.code {
        case .serverError: logger.error("token request failed", fields)
        case .temporarilyUnavailable: logger.warning("token request refused", fields)
        default: logger.info("token request refused", fields)
        }
    }

    /// The scheme for `WWW-Authenticate` on `invalid_client`: Basic is the only
    /// Authorization scheme the token endpoint accepts, so any header used is answered with it.
    static func authorizationScheme(_ request: HTTPRequest) -> String? {
        request.headers["Authorization"] == nil ? nil : "Basic"
    }

    /// `application/x-www-form-urlencoded`, case-insensitively, with optional parameters (charset).
    static func isFormURLEncoded(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return mediaType == "application/x-www-form-urlencoded"
    }
}

/// An `invalid_client` answered with `Retry-After` because the client or address is throttled.
struct ThrottledFailure: Error {
    let error: OAuthError
    let retryAfter: Int
}
