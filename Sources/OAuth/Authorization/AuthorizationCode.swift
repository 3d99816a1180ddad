import Foundation
import JOSE

/// An authorization code's grant as stored (RFC 6749 §4.1.2): everything the token endpoint
/// needs to check the redemption and issue tokens. The code itself is never stored, only
/// its ``TokenDigest``.
public struct AuthorizationCode: Sendable, Equatable {
    public var clientID: String
    public var userID: UUID
    public var redirectURI: String
    public var codeChallenge: String
    public var scopes: [String]
    public var audiences: [String]
    public var nonce: String?
    /// The login session's public id (`sid`).
    public var sid: String
    public var authTime: Date
    public var expiresAt: Date

    public init(clientID: String, userID: UUID, redirectURI: String, codeChallenge: String, scopes: [String], audiences: [String],
                nonce: String?, sid: String, authTime: Date, expiresAt: Date) {
        self.clientID = clientID
        self.userID = userID
        self.redirectURI = redirectURI
        self.codeChallenge = codeChallenge
        self.scopes = scopes
        self.audiences = audiences
        self.nonce = nonce
        self.sid = sid
        self.authTime = authTime
        self.expiresAt = expiresAt
    }

    public var scope: Scope { Scope(scopes) }

    /// A new code: 256 random bits, base64url (43 characters).
    public static func generate() -> String { Base64URL.encode(SecureRandom.bytes(32)) }

}

/// The outcome of trying to redeem a code, decided atomically by storage.
public enum CodeRedemption: Sendable, Equatable {
    /// This request redeemed it; no other ever will.
    case redeemed(AuthorizationCode)
    /// This request consumed it, but the checks refused it (wrong client, redirect URI or verifier).
    case rejected(detail: String)
    /// It was redeemed before: what was issued from it (listed) has now been revoked.
    case alreadyRedeemed(revoked: [AccessTokenRecord])
    /// It expired unredeemed (it is consumed now).
    case expired
    /// No such code.
    case notFound

    /// Whether the code had been redeemed before (whatever was revoked now).
    public var isAlreadyRedeemed: Bool {
        if case .alreadyRedeemed = self { return true }
        return false
    }
}

/// The authorization-code grant at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.6): the code
/// is redeemed once, then checked (so that any failure leaves it consumed), and the tokens issued.
public struct AuthorizationCodeGrant: Sendable {
    public let codes: any AuthorizationCodeStore
    public let users: any UserStore
    public let minter: TokenMinter
    public let refresh: RefreshSettings
    public let observer: any GrantObserver
    public let clock: @Sendable () -> Date

    public init(codes: any AuthorizationCodeStore, users: any UserStore, minter: TokenMinter, refresh: RefreshSettings,
                observer: any GrantObserver, clock: @escaping @Sendable () -> Date = Date.init) {
        self.codes = codes
        self.users = users
        self.minter = minter
        self.refresh = refresh
        self.observer = observer
        self.clock = clock
    }

    /// Redeems the request's code for `client` and issues the access token, the refresh token when
    /// the grant includes one, and for OpenID requests the ID token.
    ///
    /// What will be issued (the access token's `jti`, a refresh-token family) is fixed before the
    /// redemption commits and recorded with it, so that a replay of the code can revoke it.
    public func redeem(_ form: TokenRequest, client: Client, ring: KeyRing) async throws -> TokenResponse {
        let (code, redirectURI, verifier) = try Self.parameters(form)
        let now = clock()
        let jwtID = AccessTokenIssuer.newJWTID()
        let accessToken = AccessTokenRecord(jti: jwtID, expiresAt: minter.accessTokenExpiry(client: client, now: now))
        let refreshToken = RefreshTokenGrant.newToken()
        let policy = refresh.policy(for: client)
        var family: RefreshFamilyStart?
        if client.grantTypes.contains(.refreshToken) {
            let familyExpiry = now.addingTimeInterval(policy.absoluteLifetime)
            family = RefreshFamilyStart(expiresAt: familyExpiry, tokenDigest: TokenDigest.of(refreshToken),
                                        tokenExpiresAt: min(now.addingTimeInterval(policy.idleLifetime), familyExpiry))
        }
        // RFC 7636 §4.6: the server computes the challenge from the verifier and compares it with the stored one.
        let challenge = PKCE.isWellFormedVerifier(verifier) ? PKCE.challenge(of: verifier) : nil
        let redemption = try await codes.redeemCode(CodeRedemptionRequest(
            codeDigest: TokenDigest.of(code), clientID: client.id, redirectURI: redirectURI, verifierChallenge: challenge,
            accessToken: accessToken, refreshFamily: family))
        let record: AuthorizationCode
        switch redemption {
        case .redeemed(let redeemed):
            record = redeemed
        case .rejected(let detail):
            // The code is consumed now, whatever the request was.
            throw Self.failure(detail)
        case .alreadyRedeemed(let revoked):
            // What the code issued was revoked in the same transaction.
            observer.revoked(revoked)
            observer.codeReplayed(clientID: client.id)
            throw Self.failure("code already redeemed")
        case .expired:
            throw Self.failure("code expired")
        case .notFound:
            throw Self.failure("unknown code")
        }
        guard let user = try await users.user(id: record.userID), !user.isDisabled else {
            throw Self.failure("user \(record.userID) deleted or disabled")
        }
        let includesRefresh = RefreshTokenGrant.isIssued(to: client, scope: record.scope)
        return try minter.mint(
            client: client, subject: user.subject, username: user.username, scope: record.scope, audiences: record.audiences, jwtID: jwtID,
            now: now, ring: ring, refreshToken: includesRefresh ? refreshToken : nil,
            authentication: record.scope.contains("openid") ? AuthenticationContext(authTime: record.authTime, nonce: record.nonce, sid: record.sid) : nil)
    }

    /// The description every `invalid_grant` of this grant shares, so that a client learns
    /// nothing about which check failed.
    public static let failureDescription = "The authorization code is invalid, expired, or was already used."

    public static func failure(_ detail: String) -> OAuthError {
        OAuthError(.invalidGrant, failureDescription, detail: detail)
    }

    /// The `code`, `redirect_uri` and `code_verifier` parameters; all required.
    public static func parameters(_ request: TokenRequest) throws(OAuthError) -> (code: String, redirectURI: String, verifier: String) {
        guard let code = request["code"] else { throw OAuthError.invalidRequest("The code parameter is missing.") }
        // RFC 6749 §4.1.3: redirect_uri is "REQUIRED, if the "redirect_uri" parameter was included in the
        // authorization request"; Tessera requires it there, so here too.
        guard let redirectURI = request["redirect_uri"] else { throw OAuthError.invalidRequest("The redirect_uri parameter is missing.") }
        // RFC 7636 §4.5: code_verifier is REQUIRED when the request had a challenge; every request has one.
        guard let verifier = request["code_verifier"] else { throw OAuthError.invalidRequest("The code_verifier parameter is missing.") }
        guard code.utf8.count <= 256 else { throw failure("code longer than 256 bytes") }
        return (code, redirectURI, verifier)
    }

    /// Checks a redeemed code against the client and the request.
    public static func check(_ code: AuthorizationCode, client: Client, redirectURI: String, verifier: String) throws(OAuthError) {
        // RFC 6749 §4.1.3: "ensure that the authorization code was issued to the authenticated confidential client".
        guard code.clientID == client.id else { throw failure("code of client \(code.clientID) presented by \(client.id)") }
        // RFC 6749 §4.1.3: "ensure that the "redirect_uri" parameter is present ... and that their values are identical."
        guard RedirectURI.identical(code.redirectURI, redirectURI) else { throw failure("redirect_uri differs from the authorization request") }
        // RFC 7636 §4.6: "If the values are not equal, an error response indicating "invalid_grant" ... MUST be returned."
        guard PKCE.verify(verifier: verifier, challenge: code.codeChallenge) else { throw failure("PKCE verification failed") }
    }
}
