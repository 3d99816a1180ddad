import Foundation

/// The tokens a successful grant returns (RFC 6749 §5.1).
public struct TokenResponse: Sendable {
    public let accessToken: IssuedAccessToken
    /// The refresh token, when the grant includes one.
    public let refreshToken: String?
    /// The OpenID Connect ID token, for OpenID grants.
    public let idToken: String?

    public init(accessToken: IssuedAccessToken, refreshToken: String? = nil, idToken: String? = nil) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.idToken = idToken
    }

    /// The response body (RFC 6749 §5.1).
    public var json: String { accessToken.responseJSON(refreshToken: refreshToken, idToken: idToken) }
}

/// What an ID token issued with an access token says of the authentication.
public struct AuthenticationContext: Sendable, Equatable {
    /// When the person signed in (OIDC Core §2 `auth_time`).
    public var authTime: Date
    public var nonce: String?
    /// The login session (`sid`).
    public var sid: String?
    public init(authTime: Date, nonce: String?, sid: String?) {
        self.authTime = authTime
        self.nonce = nonce
        self.sid = sid
    }
}

/// Mints the tokens of a successful grant: the access token in the client's format and, for
/// OpenID grants, an ID token signed with the client's ID-token algorithm.
public struct TokenMinter: Sendable {
    public let accessTokens: AccessTokenIssuer
    /// ID-token lifetime in seconds.
    public let idTokenLifetime: Int64

    public init(accessTokens: AccessTokenIssuer, idTokenLifetime: Int64) {
        self.accessTokens = accessTokens
        self.idTokenLifetime = idTokenLifetime
    }

    /// - Parameters:
    ///   - jwtID: the access token's `jti`, chosen before storage recorded it (nil: a new one).
    ///   - authentication: for an ID token (nil: none).
    public func mint(client: Client, subject: String, username: String?, scope: Scope, audiences: [String], jwtID: String? = nil,
                     now: Date, ring: KeyRing, refreshToken: String? = nil, authentication: AuthenticationContext? = nil) throws -> TokenResponse {
        let issued = try accessTokens.issue(client: client, subject: subject, scope: scope, audience: audiences, ring: ring, now: now,
                                            jwtID: jwtID, username: username)
        var idToken: String?
        if let authentication {
            guard let key = ring.signingKey(for: client.idTokenSigningAlgorithm) else {
                throw OAuthError(.temporarilyUnavailable, "No signing key is available yet; try again shortly.",
                                 detail: "no active \(client.idTokenSigningAlgorithm.rawValue) key")
            }
            let claims = IDTokenClaims(
                issuer: accessTokens.issuer, subject: subject, audience: client.id, issuedAt: issued.claims.issuedAt,
                expiresAt: issued.claims.issuedAt + idTokenLifetime, authTime: Int64(authentication.authTime.timeIntervalSince1970.rounded(.down)),
                nonce: authentication.nonce, accessTokenHash: IDTokenClaims.accessTokenHash(issued.token), sessionID: authentication.sid)
            idToken = try claims.sign(key: key)
        }
        return TokenResponse(accessToken: issued, refreshToken: refreshToken, idToken: idToken)
    }

    /// When an access token issued for `client` at `now` expires (recorded before it is minted).
    public func accessTokenExpiry(client: Client, now: Date) -> Date {
        Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down) + TimeInterval(accessTokens.lifetime(for: client)))
    }
}

/// What a grant tells the server about incidents it handled, beyond its answer: for the audit
/// log, metrics, and this instance's revocation set.
public protocol GrantObserver: Sendable {
    /// Storage revoked these access tokens as part of the grant (a replayed code, a reused refresh
    /// token): this instance should know them at once, before the announcement comes back.
    func revoked(_ tokens: [AccessTokenRecord])
    /// An already redeemed authorization code was presented; what it issued is revoked.
    func codeReplayed(clientID: String)
    /// A rotated refresh token was presented outside its grace window; its family is revoked.
    func refreshTokenReused(clientID: String, familyID: UUID)
    /// A client retried a rotation within its grace window and got the same successor.
    func refreshGraceRetry(clientID: String, familyID: UUID)
}
