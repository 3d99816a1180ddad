import Foundation
import JOSE

/// Checks a bearer access token this server issued, in either format, and returns its claims.
///
/// It checks what the token itself proves (signature or seal, issuer, type, expiry); whether it
/// was revoked is storage's question, asked by the caller.
public struct AccessTokenVerifier: Sendable {
    public let issuer: String
    public let opaqueKeys: OpaqueTokenKeyring
    /// Clock skew allowed on `iat` (a token from a few seconds in the future is accepted).
    public static let clockSkew: Int64 = 60

    public init(issuer: String, opaqueKeys: OpaqueTokenKeyring) {
        self.issuer = issuer
        self.opaqueKeys = opaqueKeys
    }

    /// The claims of a valid, unexpired token, or nil for anything else.
    public func verify(_ token: String, keys: [VerificationKey], now: Int64) -> AccessTokenClaims? {
        let claims: AccessTokenClaims
        if token.hasPrefix(OpaqueAccessToken.prefix) {
            guard let opened = opaqueKeys.open(token, at: now) else { return nil }
            claims = opened
        } else {
            guard let verified = try? JWS.verify(token, keys: keys),
                  // RFC 9068 §4: "Resource servers MUST verify that the typ header value is "at+jwt" or
                  // "application/at+jwt" and reject tokens carrying any other value."
                  verified.header.typ == JWTAccessToken.type || verified.header.typ == "application/at+jwt",
                  // RFC 7519 §4: duplicate claim names are refused by the strict parser before decoding.
                  (try? JSONValue(parsing: verified.payload)) != nil,
                  let parsed = AccessTokenClaims.parse(json: verified.payload) else { return nil }
            claims = parsed
        }
        guard claims.issuer == issuer, claims.expiresAt > now, claims.issuedAt <= now + Self.clockSkew else { return nil }
        return claims
    }
}
