import Foundation
import JOSE

/// OpenID Connect ID tokens (OIDC Core §2, §3.1.3.6).
public struct IDTokenClaims: Sendable, Equatable {
    public var issuer: String
    public var subject: String
    /// The client id: OIDC Core §2 `aud` "MUST contain the OAuth 2.0 client_id of the Relying Party".
    public var audience: String
    public var issuedAt: Int64
    public var expiresAt: Int64
    public var authTime: Int64
    public var nonce: String?
    /// OIDC Core §3.1.3.6 `at_hash` of the access token issued with it.
    public var accessTokenHash: String?
    /// The login session (OIDC Front-Channel Logout §3 `sid`).
    public var sessionID: String?

    public init(issuer: String, subject: String, audience: String, issuedAt: Int64, expiresAt: Int64, authTime: Int64,
                nonce: String?, accessTokenHash: String?, sessionID: String?) {
        self.issuer = issuer
        self.subject = subject
        self.audience = audience
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.authTime = authTime
        self.nonce = nonce
        self.accessTokenHash = accessTokenHash
        self.sessionID = sessionID
    }

    /// The claims as JSON. `azp` is the client id (OIDC Core §2: the party the token was issued to).
    public func json() -> String {
        var members = "{\"iss\":\(JSONText.string(issuer)),\"sub\":\(JSONText.string(subject)),\"aud\":\(JSONText.string(audience)),"
            + "\"azp\":\(JSONText.string(audience)),\"exp\":\(expiresAt),\"iat\":\(issuedAt),\"auth_time\":\(authTime)"
        if let nonce { members += ",\"nonce\":\(JSONText.string(nonce))" }
        if let accessTokenHash { members += ",\"at_hash\":\(JSONText.string(accessTokenHash))" }
        if let sessionID { members += ",\"sid\":\(JSONText.string(sessionID))" }
        return members + "}"
    }

    /// OIDC Core §3.1.3.6: "Its value is the base64url encoding of the left-most half of the hash of
    /// the octets of the ASCII representation of the access_token value, where the hash algorithm
    /// used is the hash algorithm used in the alg Header Parameter of the ID Token's JOSE Header."
    /// RS256 and ES256 both use SHA-256.
    public static func accessTokenHash(_ accessToken: String) -> String {
        Base64URL.encode(Array(SHA256.hash(Array(accessToken.utf8)).prefix(16)))
    }

    /// Signs the claims with `key` (the client's ID-token algorithm).
    public func sign(key: SigningKey) throws -> String {
        try JWS.sign(payload: Array(json().utf8), key: key, type: "JWT")
    }
}

/// An `id_token_hint` (OIDC RP-Initiated Logout §2) whose signature verified: an ID token this
/// server issued, possibly expired.
public struct IDTokenHint: Sendable, Equatable {
    public var subject: String
    public var audience: [String]
    public var sessionID: String?

    /// Verifies `token` against the published keys and checks `iss`; expiry is not checked
    /// (OIDC RP-Initiated Logout §2: "The OP need not be the audience of the ID Token ... when the
    /// ID Token is used as an id_token_hint", and an expired one still names the session).
    public static func verify(_ token: String, keys: [VerificationKey], issuer: String) -> IDTokenHint? {
        guard let verified = try? JWS.verify(token, keys: keys), verified.header.typ != JWTAccessToken.type,
              case .object(let claims)? = try? JSONValue(parsing: verified.payload),
              claims["iss"]?.stringValue == issuer, let subject = claims["sub"]?.stringValue else { return nil }
        let audience: [String]
        switch claims["aud"] {
        case .string(let single)?: audience = [single]
        case .array(let many)?: audience = many.compactMap(\.stringValue)
        default: return nil
        }
        // An access token is not an ID token: ID tokens carry auth_time here, access tokens client_id.
        guard claims["auth_time"] != nil, claims["client_id"] == nil else { return nil }
        return IDTokenHint(subject: subject, audience: audience, sessionID: claims["sid"]?.stringValue)
    }
}
