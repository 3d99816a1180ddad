import Foundation
import HTTPServer
import JOSE
import OAuth

/// `POST /token` (RFC 6749 §3.2): client authentication, then the grant.
struct TokenEndpoint: Sendable {
    let clients: ClientService
    let keys: KeyService
    let issuer: AccessTokenIssuer
    let login: BrowserLogin
    /// ID-token lifetime in seconds.
    let idTokenLifetime: Int64
    let logger: Logger

    static let path = "/token"

    /// The grant types this server implements; discovery lists the same.
    static let supportedGrantTypes: [Client.GrantType] = [.authorizationCode, .clientCredentials]

    func token(_ request: HTTPRequest) async -> HTTPResponse {
        let scheme = Self.authorizationScheme(request)
        do {
            return try await handle(request)
        } catch {
            let oauthError = OAuthErrorResponse.map(error)
            log(oauthError, request)
            return OAuthErrorResponse.response(oauthError, authorizationScheme: scheme, retryAfter: (error as? ThrottledFailure)?.retryAfter)
        }
    }

    private func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        // RFC 6749 §3.2: "The client MUST use the HTTP "POST" method when making access token requests."
        guard request.method == .POST else {
            throw OAuthError.invalidRequest("The token endpoint accepts only POST.")
        }
        // RFC 6749 §4.4.2: parameters "using the "application/x-www-form-urlencoded" format".
        guard Self.isFormURLEncoded(request.headers["Content-Type"]) else {
            throw OAuthError.invalidRequest("The request body must be application/x-www-form-urlencoded.")
        }
        let form = try TokenRequest(body: request.body)
        guard let grantTypeName = form["grant_type"] else {
            throw OAuthError.invalidRequest("The grant_type parameter is missing.")
        }
        guard let grantType = Client.GrantType(rawValue: grantTypeName), Self.supportedGrantTypes.contains(grantType) else {
            throw OAuthError(.unsupportedGrantType, "The grant type is not supported.", detail: "grant_type \(grantTypeName.prefix(64))")
        }
        let authentication = ClientAuthenticationRequest(
            authorization: request.headers["Authorization"], parameters: form.parameters, sourceAddress: request.remoteAddress)
        let authenticated: AuthenticatedClient
        do {
            authenticated = try await clients.authenticator.authenticate(authentication)
        } catch let error as OAuthError where error.code == .invalidClient {
            // A throttled client or address is told when to try again.
            if let wait = clients.authenticator.retryAfter(for: authentication) {
                throw ThrottledFailure(error: error, retryAfter: AuthenticationThrottle.retryAfterSeconds(wait))
            }
            throw error
        }
        let client = authenticated.client
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
            logger.debug("access token issued", ["client_id": client.id, "grant_type": grantType.rawValue, "jti": issued.claims.jwtID,
                                                 "format": client.accessTokenFormat.rawValue])
            return HTTPResponse(status: .ok, headers: OAuthErrorResponse.noStoreJSON, body: Array(issued.responseJSON().utf8))
        case .authorizationCode:
            return try await redeem(form, client: client)
        case .refreshToken:
            throw OAuthError(.unsupportedGrantType, "The grant type is not supported.")
        }
    }

    /// The authorization-code grant (RFC 6749 §4.1.3): redeem the code once, check it, issue
    /// the access token and, for OpenID requests, the ID token.
    private func redeem(_ form: TokenRequest, client: Client) async throws -> HTTPResponse {
        let (code, redirectURI, verifier) = try AuthorizationCodeGrant.parameters(form)
        let now = Date()
        let issuedAt = now.timeIntervalSince1970.rounded(.down)
        // The token's id and expiry are fixed before the redemption commits, so that they are
        // recorded with it and a replay of the code can revoke the token.
        let jwtID = AccessTokenIssuer.newJWTID()
        let expiresAt = Date(timeIntervalSince1970: issuedAt + TimeInterval(issuer.lifetime(for: client)))
        let record: AuthorizationCode
        switch try await login.store.redeemCode(hash: AuthorizationCode.hash(code), accessTokenJTI: jwtID, accessTokenExpiresAt: expiresAt) {
        case .redeemed(let redeemed):
            record = redeemed
        case .alreadyRedeemed:
            logger.warning("authorization code reused; the token issued from it is revoked", ["event": "code_reuse", "client_id": client.id])
            throw AuthorizationCodeGrant.failure("code already redeemed")
        case .expired:
            throw AuthorizationCodeGrant.failure("code expired")
        case .notFound:
            throw AuthorizationCodeGrant.failure("unknown code")
        }
        // The code is consumed now, whatever the checks below decide.
        try AuthorizationCodeGrant.check(record, client: client, redirectURI: redirectURI, verifier: verifier)
        guard let user = try await login.users.user(id: record.userID), !user.isDisabled else {
            throw AuthorizationCodeGrant.failure("user \(record.userID) deleted or disabled")
        }
        let ring = keys.current.ring
        let issued = try issuer.issue(client: client, subject: user.subject, scope: record.scope, audience: record.audiences, ring: ring,
                                      now: now, jwtID: jwtID)
        var idToken: String?
        if record.scope.contains("openid") {
            guard let key = ring.signingKey(for: client.idTokenSigningAlgorithm) else {
                throw OAuthError(.temporarilyUnavailable, "No signing key is available yet; try again shortly.",
                                 detail: "no active \(client.idTokenSigningAlgorithm.rawValue) key")
            }
            let claims = IDTokenClaims(
                issuer: issuer.issuer, subject: user.subject, audience: client.id, issuedAt: issued.claims.issuedAt,
                expiresAt: issued.claims.issuedAt + idTokenLifetime, authTime: Int64(record.authTime.timeIntervalSince1970.rounded(.down)),
                nonce: record.nonce, accessTokenHash: IDTokenClaims.accessTokenHash(issued.token), sessionID: record.sid)
            idToken = try claims.sign(key: key)
        }
        logger.info("tokens issued", ["event": "token_issued", "client_id": client.id, "grant_type": "authorization_code", "sub": user.subject,
                                      "jti": jwtID, "aud": record.audiences.joined(separator: " ")])
        return HTTPResponse(status: .ok, headers: OAuthErrorResponse.noStoreJSON, body: Array(issued.responseJSON(idToken: idToken).utf8))
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
