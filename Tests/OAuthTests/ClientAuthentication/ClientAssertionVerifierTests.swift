import Foundation
import JOSE
import Testing
@testable import OAuth

@Suite struct ClientAssertionVerifierTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let verifier = ClientAssertionVerifier(audience: AuthenticationFixture.issuer)
    let key: SigningKey
    let client: Client

    init() throws {
        key = try SigningKey.generate(.es256)
        client = AuthenticationFixture.client("jwt-client", method: .privateKeyJWT, jwks: JWKS(keys: [key.publicJWK]))
    }

    func claims(_ changes: [String: Any] = [:]) -> [String: Any] {
        Assertion.claims("jwt-client", now: now, changes)
    }

    /// Expects the verifier to refuse `assertion` with the generic invalid_client; returns the logged detail.
    @discardableResult
    func expectRefused(_ assertion: String, client: Client? = nil, verifier: ClientAssertionVerifier? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        let error = #expect(throws: OAuthError.self, sourceLocation: sourceLocation) {
            try (verifier ?? self.verifier).verify(assertion, client: client ?? self.client, now: now)
        }
        #expect(error?.code == .invalidClient, sourceLocation: sourceLocation)
        #expect(error?.errorDescription == ClientAuthenticator.failureDescription, sourceLocation: sourceLocation)
        return error?.detail
    }

    @Test("A well-formed ES256 assertion verifies and yields its jti and exp (RFC 7523 §3)")
    func validES256() throws {
        let verified = try verifier.verify(try Assertion.sign(claims(["jti": "id-1"]), key: key), client: client, now: now)
        #expect(verified == VerifiedClientAssertion(jwtID: "id-1", expiresAt: now.addingTimeInterval(60), keyID: key.kid))
    }

    @Test("A well-formed RS256 assertion verifies (RFC 7518 §3.3)")
    func validRS256() throws {
        let rsa = try SigningKey.generate(.rs256)
        let client = AuthenticationFixture.client("jwt-client", method: .privateKeyJWT, jwks: JWKS(keys: [key.publicJWK, rsa.publicJWK]))
        #expect(try verifier.verify(try Assertion.sign(claims(), key: rsa), client: client, now: now).keyID == rsa.kid)
    }

    @Test("alg none is refused (RFC 8725 §3.2)")
    func algNone() throws {
        let payload = try JSONSerialization.data(withJSONObject: claims())
        let unsecured = Base64URL.encode(Array(#"{"alg":"none"}"#.utf8)) + "." + Base64URL.encode(Array(payload)) + "."
        #expect(expectRefused(unsecured)?.contains("alg") == true)
        let unsecuredWithKid = Base64URL.encode(Array(#"{"alg":"none","kid":"\#(key.kid)"}"#.utf8)) + "." + Base64URL.encode(Array(payload)) + ".c2ln"
        expectRefused(unsecuredWithKid)
    }

    @Test("HS256 is refused: the client's public key is no MAC key (RFC 8725 §3.1)")
    func hmac() throws {
        let header = Base64URL.encode(Array(#"{"alg":"HS256","kid":"\#(key.kid)"}"#.utf8))
        let input = header + "." + Base64URL.encode(Array(try JSONSerialization.data(withJSONObject: claims())))
        let macKey = Array((key.publicJWK.x ?? "").utf8)
        let forged = input + "." + Base64URL.encode(HMACSHA256.authenticate(Array(input.utf8), key: macKey))
        #expect(expectRefused(forged)?.contains("HS256") == true)
    }

    @Test("An unknown kid is refused, with no fallback to another key (RFC 7515 §4.1.4)")
    func unknownKid() throws {
        expectRefused(try Assertion.sign(claims(), key: key, header: ["alg": "ES256", "kid": "not-registered"]))
    }

    @Test("Without a kid, exactly one registered key of the algorithm must fit")
    func missingKid() throws {
        let noKid = try Assertion.sign(claims(), key: key, header: ["alg": "ES256"])
        #expect(try verifier.verify(noKid, client: client, now: now).keyID == key.kid)

        let second = try SigningKey.generate(.es256)
        let twoKeys = AuthenticationFixture.client("jwt-client", method: .privateKeyJWT, jwks: JWKS(keys: [key.publicJWK, second.publicJWK]))
        expectRefused(noKid, client: twoKeys)
        #expect(try verifier.verify(try Assertion.sign(claims(), key: key), client: twoKeys, now: now).keyID == key.kid)
    }

    @Test("The header's alg cannot pick another algorithm than the key's (RFC 8725 §3.1)")
    func algorithmMismatch() throws {
        let rsa = try SigningKey.generate(.rs256)
        let client = AuthenticationFixture.client("jwt-client", method: .privateKeyJWT, jwks: JWKS(keys: [key.publicJWK, rsa.publicJWK]))
        expectRefused(try Assertion.sign(claims(), key: rsa, header: ["alg": "RS256", "kid": key.kid]), client: client)
    }

    @Test("A signature by an unregistered key, or a tampered payload, is refused (RFC 7523 §3 item 8)")
    func badSignature() throws {
        let stranger = try SigningKey.generate(.es256)
        expectRefused(try Assertion.sign(claims(), key: stranger, header: ["alg": "ES256", "kid": key.kid]))
        expectRefused(try Assertion.sign(claims(), key: stranger))
        let genuine = try Assertion.sign(claims(), key: key)
        let parts = genuine.split(separator: ".").map(String.init)
        var altered = claims()
        altered["jti"] = "other"
        let tampered = parts[0] + "." + Base64URL.encode(Array(try JSONSerialization.data(withJSONObject: altered))) + "." + parts[2]
        expectRefused(tampered)
        let noKeys = AuthenticationFixture.client("jwt-client", method: .privateKeyJWT, jwks: nil)
        expectRefused(genuine, client: noKeys)
    }

    @Test("aud is the issuer identifier as a single JSON string; the token endpoint, arrays and other servers are refused (draft-ietf-oauth-rfc7523bis §4)")
    func audience() throws {
        expectRefused(try Assertion.sign(claims(["aud": "https://elsewhere.example/token"]), key: key))
        expectRefused(try Assertion.sign(claims(["aud": ["https://elsewhere.example"]]), key: key))
        expectRefused(try Assertion.sign(claims(["aud": NSNull()]), key: key))
        expectRefused(try Assertion.sign(claims(["aud": [AuthenticationFixture.issuer, 7]]), key: key))
        // The token endpoint URL "MUST NOT be used as an audience value".
        expectRefused(try Assertion.sign(claims(["aud": AuthenticationFixture.tokenEndpoint]), key: key))
        // "MUST be a JSON string, and not a single-valued JSON array"; never one value among others.
        expectRefused(try Assertion.sign(claims(["aud": [AuthenticationFixture.issuer]]), key: key))
        expectRefused(try Assertion.sign(claims(["aud": ["https://other.example", AuthenticationFixture.issuer]]), key: key))
        // Compared byte for byte: a trailing slash or another case is another server.
        expectRefused(try Assertion.sign(claims(["aud": AuthenticationFixture.issuer + "/"]), key: key))
        expectRefused(try Assertion.sign(claims(["aud": AuthenticationFixture.issuer.uppercased()]), key: key))
        #expect(throws: Never.self) { try verifier.verify(try Assertion.sign(claims(["aud": AuthenticationFixture.issuer]), key: key), client: client, now: now) }
    }

    @Test("An expired assertion is refused, allowing 30 s of clock skew (RFC 7523 §3 item 4)")
    func expired() throws {
        let base = Int(now.timeIntervalSince1970)
        #expect(expectRefused(try Assertion.sign(claims(["exp": base - 30]), key: key))?.contains("expired") == true)
        #expect(throws: Never.self) { try verifier.verify(try Assertion.sign(claims(["exp": base - 29]), key: key), client: client, now: now) }
        expectRefused(try Assertion.sign(claims(["exp": NSNull()]), key: key))
        expectRefused(try Assertion.sign(claims(["exp": "\(base + 60)"]), key: key))
    }

    @Test("exp more than 5 minutes (plus skew) ahead is refused; the maximum is a parameter")
    func tooLongLived() throws {
        let base = Int(now.timeIntervalSince1970)
        #expect(expectRefused(try Assertion.sign(claims(["exp": base + 331]), key: key))?.contains("ahead") == true)
        #expect(throws: Never.self) { try verifier.verify(try Assertion.sign(claims(["exp": base + 330]), key: key), client: client, now: now) }
        let strict = ClientAssertionVerifier(audience: AuthenticationFixture.issuer, maximumLifetime: 60)
        expectRefused(try Assertion.sign(claims(["exp": base + 91]), key: key), verifier: strict)
        #expect(throws: Never.self) { try strict.verify(try Assertion.sign(claims(["exp": base + 90]), key: key), client: client, now: now) }
    }

    @Test("nbf or iat in the future beyond the skew is refused (RFC 7523 §3 items 5 and 6)")
    func notYetValid() throws {
        let base = Int(now.timeIntervalSince1970)
        expectRefused(try Assertion.sign(claims(["nbf": base + 31]), key: key))
        expectRefused(try Assertion.sign(claims(["iat": base + 31]), key: key))
        expectRefused(try Assertion.sign(claims(["iat": "yesterday"]), key: key))
        #expect(throws: Never.self) {
            try verifier.verify(try Assertion.sign(claims(["nbf": base + 30, "iat": base + 30]), key: key), client: client, now: now)
        }
        #expect(throws: Never.self) { try verifier.verify(try Assertion.sign(claims(["iat": NSNull()]), key: key), client: client, now: now) }
    }

    @Test("iss and sub must both be the client id (RFC 7523 §3 items 1 and 2.B, OIDC Core §9)")
    func issuerAndSubject() throws {
        expectRefused(try Assertion.sign(claims(["iss": "someone-else"]), key: key))
        expectRefused(try Assertion.sign(claims(["sub": "someone-else"]), key: key))
        expectRefused(try Assertion.sign(claims(["sub": NSNull()]), key: key))
        expectRefused(try Assertion.sign(claims(["iss": 42]), key: key))
    }

    @Test("jti is required, non-empty and at most 256 bytes (OIDC Core §9)")
    func jwtID() throws {
        expectRefused(try Assertion.sign(claims(["jti": NSNull()]), key: key))
        expectRefused(try Assertion.sign(claims(["jti": ""]), key: key))
        expectRefused(try Assertion.sign(claims(["jti": 12345]), key: key))
        expectRefused(try Assertion.sign(claims(["jti": String(repeating: "j", count: 257)]), key: key))
        #expect(try verifier.verify(try Assertion.sign(claims(["jti": String(repeating: "j", count: 256)]), key: key), client: client, now: now).jwtID.count == 256)
    }

    @Test("Duplicate claim names are refused (RFC 7519 §4)")
    func duplicateClaims() throws {
        let base = Int(now.timeIntervalSince1970)
        let payload = #"{"iss":"jwt-client","sub":"jwt-client","sub":"jwt-client","aud":"\#(AuthenticationFixture.issuer)","exp":\#(base + 60),"jti":"d"}"#
        expectRefused(try Assertion.sign(payload: Array(payload.utf8), key: key))
    }

    @Test("Assertions longer than 8 KiB are refused before parsing")
    func oversized() throws {
        expectRefused(try Assertion.sign(claims(["padding": String(repeating: "p", count: 8 * 1024)]), key: key))
    }

    @Test("The client is looked up by sub, else iss, read without trusting the assertion")
    func unverifiedClientID() throws {
        #expect(ClientAssertionVerifier.unverifiedClientID(try Assertion.sign(claims(), key: key)) == "jwt-client")
        #expect(ClientAssertionVerifier.unverifiedClientID(try Assertion.sign(claims(["sub": NSNull()]), key: key)) == "jwt-client")
        #expect(ClientAssertionVerifier.unverifiedClientID(try Assertion.sign(claims(["sub": NSNull(), "iss": NSNull()]), key: key)) == nil)
        #expect(ClientAssertionVerifier.unverifiedClientID("a.b") == nil)
        #expect(ClientAssertionVerifier.unverifiedClientID("a.!!!.c") == nil)
    }
}
