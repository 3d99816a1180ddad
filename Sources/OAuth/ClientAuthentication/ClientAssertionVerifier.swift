import Foundation
import JOSE

/// What a verified client assertion established.
public struct VerifiedClientAssertion: Sendable, Equatable {
    /// The `jti`, to be recorded against replay.
    public let jwtID: String
    /// The `exp` claim.
    public let expiresAt: Date
    /// The `kid` of the client key whose signature verified.
    public let keyID: String
}

/// Verifies `private_key_jwt` client assertions (RFC 7523 §3, RFC 7521 §4.2, OIDC Core §9).
///
/// Pure: checks the signature against the client's registered keys and the claims against the
/// clock; recording the `jti` against replay is the caller's job. Every refusal is `invalid_client`
/// with ``ClientAuthenticator/failureDescription``; the reason is in `detail`.
public struct ClientAssertionVerifier: Sendable {
    /// RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion.
    public static let assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    /// Bounds the assertion looked at before any parsing; real assertions are well under 2 KiB.
    public static let maximumLength = 8 * 1024
    /// Bounds the `jti` recorded in storage per assertion.
    public static let maximumJWTIDLength = 256

    /// The issuer identifier: the one value `aud` must be (draft-ietf-oauth-rfc7523bis §4).
    public let audience: String
    /// How far after now `exp` may lie (before skew): assertions are single-use and short-lived,
    /// and a long-lived one would make the replay record keep its `jti` for as long.
    public let maximumLifetime: TimeInterval
    /// Allowed difference between the client's clock and ours.
    public let clockSkew: TimeInterval

    public init(audience: String, maximumLifetime: TimeInterval = 300, clockSkew: TimeInterval = 30) {
        self.audience = audience
        self.maximumLifetime = maximumLifetime
        self.clockSkew = clockSkew
    }

    /// The client the assertion says it comes from (`sub`, else `iss`), read without verifying
    /// anything: use it only to look up the keys that will then verify the assertion.
    public static func unverifiedClientID(_ assertion: String) -> String? {
        guard assertion.utf8.count <= maximumLength else { return nil }
        let parts = assertion.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = Base64URL.decode(String(parts[1])),
              case .object(let claims)? = try? JSONValue(parsing: payload) else { return nil }
        return claims["sub"]?.stringValue ?? claims["iss"]?.stringValue
    }

    /// Verifies the assertion's signature with one of `client`'s registered keys and checks its claims at `now`.
    public func verify(_ assertion: String, client: Client, now: Date) throws(OAuthError) -> VerifiedClientAssertion {
        guard assertion.utf8.count <= Self.maximumLength else {
            throw Self.failure("assertion longer than \(Self.maximumLength) bytes")
        }
        let verified = try verifySignature(assertion, client: client)
        guard case .object(let claims)? = try? JSONValue(parsing: verified.payload) else {
            throw Self.failure("assertion payload is not a JSON object")
        }

        // RFC 7523 §3 item 1: "The JWT MUST contain an "iss" (issuer) claim"; OIDC Core §9: iss "MUST contain
        // the client_id of the OAuth Client." RFC 7523 §3 item 2.B: "For client authentication, the subject
        // MUST be the "client_id" of the OAuth client." The client was looked up by the client_id parameter
        // when present, so this also enforces RFC 7521 §4.2: "If present, the value of the "client_id"
        // parameter MUST identify the same client as is identified by the client assertion."
        guard claims["iss"]?.stringValue == client.id else { throw Self.failure("iss is not the client id") }
        guard claims["sub"]?.stringValue == client.id else { throw Self.failure("sub is not the client id") }

        // draft-ietf-oauth-rfc7523bis §4 (updating RFC 7523 §3 item 3): "the token endpoint URL of the
        // authorization server MUST NOT be used as an audience value", the "aud claim value MUST be a JSON
        // string, and not a single-valued JSON array", and "The authorization server MUST reject any JWT that
        // does not contain its issuer identifier as its sole audience value." An assertion made for another
        // server, or for an endpoint of one, cannot be replayed here. Compared byte for byte (RFC 3986 §6.2.1).
        guard case .string(let audience)? = claims["aud"] else { throw Self.failure("aud missing or not a single string") }
        guard audience.utf8.elementsEqual(self.audience.utf8) else { throw Self.failure("aud is not this server's issuer identifier") }

        // RFC 7523 §3 item 4: "The JWT MUST contain an "exp" (expiration time) claim that limits the time
        // window during which the JWT can be used. The authorization server MUST reject any JWT with an
        // expiration time that has passed, subject to allowable clock skew between systems."
        guard let exp = try Self.numericDate(claims, "exp") else { throw Self.failure("exp missing") }
        guard exp.addingTimeInterval(clockSkew) > now else { throw Self.failure("assertion expired") }
        guard exp <= now.addingTimeInterval(maximumLifetime + clockSkew) else {
            throw Self.failure("exp more than \(Int(maximumLifetime)) s ahead")
        }
        // RFC 7523 §3 item 5: the "nbf" claim "identifies the time before which the token MUST NOT be accepted
        // for processing."
        if let nbf = try Self.numericDate(claims, "nbf"), nbf > now.addingTimeInterval(clockSkew) {
            throw Self.failure("nbf in the future")
        }
        // RFC 7519 §4.1.6: "iat" is the time the JWT was issued; one from the future is not credible.
        if let iat = try Self.numericDate(claims, "iat"), iat > now.addingTimeInterval(clockSkew) {
            throw Self.failure("iat in the future")
        }
        // OIDC Core §9: jti "REQUIRED. ... These tokens MUST only be used once".
        guard case .string(let jti)? = claims["jti"], !jti.isEmpty else { throw Self.failure("jti missing") }
        guard jti.utf8.count <= Self.maximumJWTIDLength else { throw Self.failure("jti longer than \(Self.maximumJWTIDLength) bytes") }

        return VerifiedClientAssertion(jwtID: jti, expiresAt: exp, keyID: verified.key.kid)
    }

    /// RFC 7523 §3 item 8: "The authorization server MUST reject JWTs with an invalid signature or Message
    /// Authentication Code." Only RS256 and ES256 with a key registered by this client are accepted.
    private func verifySignature(_ assertion: String, client: Client) throws(OAuthError) -> VerifiedJWS {
        let parts = assertion.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(String(parts[0])),
              case .object(let header)? = try? JSONValue(parsing: headerBytes),
              case .string(let alg)? = header["alg"] else {
            throw Self.failure("assertion is not a compact JWS")
        }
        // RFC 8725 §3.1-3.2: "none", HMAC (whose "key" would be public) and anything else are refused.
        guard let algorithm = JWSAlgorithm(rawValue: alg) else { throw Self.failure("alg \(alg.prefix(16)) not accepted") }
        guard let jwks = client.jwks, !jwks.keys.isEmpty else { throw Self.failure("client has no registered keys") }
        // A key the server cannot import (wrong type, size or use) cannot have signed anything we accept.
        let keys = jwks.keys.compactMap { try? VerificationKey(jwk: $0) }
        let candidates: [VerificationKey]
        if case .string? = header["kid"] {
            // JWS.verify picks the key by kid alone (no fallback) and requires its algorithm to be `alg`.
            candidates = keys
        } else {
            // Without a kid, accept only when exactly one registered key fits the algorithm.
            candidates = keys.filter { $0.algorithm == algorithm }
            guard candidates.count == 1 else {
                throw Self.failure("no kid and \(candidates.count) registered \(algorithm.rawValue) keys")
            }
        }
        do {
            return try JWS.verify(assertion, keys: candidates)
        } catch {
            throw Self.failure("signature: \(error)")
        }
    }

    /// RFC 7519 §2 NumericDate: seconds since the epoch, a JSON number; absent is nil.
    private static func numericDate(_ claims: [String: JSONValue], _ name: String) throws(OAuthError) -> Date? {
        guard let value = claims[name] else { return nil }
        guard case .number(let seconds) = value, seconds.isFinite else { throw failure("\(name) is not a NumericDate") }
        return Date(timeIntervalSince1970: seconds)
    }

    static func failure(_ detail: String) -> OAuthError {
        ClientAuthenticator.failure(detail)
    }
}
