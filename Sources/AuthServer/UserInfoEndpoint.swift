import Foundation
import HTTPServer
import OAuth

/// `GET` and `POST /userinfo` (OIDC Core §5.3): claims about the user an access token was issued for.
struct UserInfoEndpoint: Sendable {
    let verifier: AccessTokenVerifier
    let keys: KeyService
    let revocations: RevocationService
    let users: any UserStore
    let logger: Logger
    /// The audience of access tokens meant for this endpoint: its own URL, which the authorization
    /// endpoint gives tokens when no other resource is named.
    let audience: String

    static let path = "/userinfo"

    func userinfo(_ request: HTTPRequest) async -> HTTPResponse {
        await ErrorResponses.json("userinfo request", request, logger: logger) { try await handle(request) }
    }

    private func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard let token = try Self.bearerToken(request) else {
            // RFC 6750 §3.1: "If the request lacks any authentication information ..., the
            // resource server SHOULD NOT include an error code or other error information."
            return HTTPResponse(status: .unauthorized, headers: HTTPHeaders([
                ("WWW-Authenticate", "Bearer realm=\"tessera\""), ("Cache-Control", "no-store"), ("Pragma", "no-cache")]))
        }
        let now = Int64(Date().timeIntervalSince1970)
        guard let claims = verifier.verify(token, keys: keys.current.ring.publishedKeys, now: now) else {
            throw OAuthError(.invalidToken, "The access token is invalid or expired.")
        }
        // The token must be meant for UserInfo: one issued for another resource server, which that
        // server could replay here, does not reveal the user's claims (RFC 8707 §2, RFC 9068 §4).
        guard claims.audience.contains(where: { RedirectURI.identical($0, audience) }) else {
            throw OAuthError(.invalidToken, "The access token was not issued for this endpoint.",
                             detail: "aud \(claims.audience.joined(separator: " ").prefix(200)) lacks \(audience)")
        }
        guard try await !revocations.isRevoked(claims) else {
            throw OAuthError(.invalidToken, "The access token is invalid or expired.", detail: "revoked jti \(claims.jwtID)")
        }
        // OIDC Core §5.3: "The Access Token obtained from an OpenID Connect Authentication Request MUST be sent as a Bearer Token".
        guard claims.scope.contains("openid") else {
            throw OAuthError(.insufficientScope, "The access token was not issued for the openid scope.")
        }
        guard let userID = UUID(uuidString: claims.subject), let user = try await users.user(id: userID), !user.isDisabled else {
            throw OAuthError(.invalidToken, "The access token is invalid or expired.", detail: "no enabled user \(claims.subject)")
        }
        return HTTPResponse(status: .ok, headers: ErrorResponses.noStoreJSON, body: Array(UserInfo.json(user: user, scope: claims.scope).utf8))
    }

    /// The token from `Authorization: Bearer` (RFC 6750 §2.1) or, on a form POST, the
    /// `access_token` field (§2.2). RFC 6750 §2: "Clients MUST NOT use more than one method".
    static func bearerToken(_ request: HTTPRequest) throws -> String? {
        var found: [String] = []
        if let header = request.headers["Authorization"] {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw OAuthError(.invalidToken, "Only Bearer tokens are accepted.")
            }
            found.append(parts[1].trimmingCharacters(in: .whitespaces))
        }
        if request.method == .POST, request.hasFormBody {
            let form = try TokenRequest(body: request.body)
            if let token = form["access_token"] { found.append(token) }
        }
        guard found.count <= 1 else { throw OAuthError.invalidRequest("Send the access token in one place only.") }
        return found.first
    }
}
