import Foundation
import JOSE

/// An authorization code's grant as stored (RFC 6749 §4.1.2): everything the token endpoint
/// needs to check the redemption and issue tokens. The code itself is never stored, only
/// ``hash(_:)`` of it.
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

    /// What storage keeps of a code, a session id or an interaction id: its SHA-256.
    public static func hash(_ secret: String) -> [UInt8] { SHA256.hash(Array(secret.utf8)) }
}

/// The outcome of trying to redeem a code, decided atomically by storage.
public enum CodeRedemption: Sendable, Equatable {
    /// This request redeemed it; no other ever will.
    case redeemed(AuthorizationCode)
    /// This request consumed it, but the checks refused it (wrong client, redirect URI or verifier).
    case rejected(OAuthError)
    /// It was redeemed before: what was issued from it (listed) has now been revoked.
    case alreadyRedeemed(revoked: [RevokedAccessToken])
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

/// An access token revoked by its `jti`, until it would have expired.
public struct RevokedAccessToken: Sendable, Equatable {
    public var jti: String
    public var expiresAt: Date
    public init(jti: String, expiresAt: Date) {
        self.jti = jti
        self.expiresAt = expiresAt
    }
}

/// The checks of the authorization-code grant at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.6),
/// applied to a code this request has already redeemed, so that any failure leaves it consumed.
public enum AuthorizationCodeGrant {
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
