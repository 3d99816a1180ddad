import JOSE
import Testing
@testable import OAuth

/// Keys shared by the verifier tests (RSA generation is slow); nil only if key generation itself fails.
private enum VerifierFixtures {
    static let rsa = try? SigningKey.generate(.rs256)
    static let ec = try? SigningKey.generate(.es256)
    static let unpublished = try? SigningKey.generate(.es256)
}

private struct VerifierFixtureUnavailable: Error {}

@Suite struct AccessTokenVerifierTests {
    let rsa: SigningKey
    let ec: SigningKey
    let unpublished: SigningKey
    let issuer = "https://issuer.example"
    let issuedAt: Int64 = 1_800_000_000
    let kek: KeyEncryptionKey
    let otherKEK: KeyEncryptionKey

    init() throws {
        guard let rsa = VerifierFixtures.rsa, let ec = VerifierFixtures.ec, let unpublished = VerifierFixtures.unpublished else {
            throw VerifierFixtureUnavailable()
        }
        self.rsa = rsa
        self.ec = ec
        self.unpublished = unpublished
        kek = try KeyEncryptionKey(bytes: Array(repeating: 7, count: 32))
        otherKEK = try KeyEncryptionKey(bytes: Array(repeating: 8, count: 32))
    }

    var published: [VerificationKey] { [rsa.verificationKey, ec.verificationKey] }
    var verifier: AccessTokenVerifier { AccessTokenVerifier(issuer: issuer, opaqueKeys: OpaqueTokenKeyring(kek: kek)) }

    func claims(issuer: String? = nil, issuedAt: Int64? = nil, lifetime: Int64 = 600) -> AccessTokenClaims {
        let iat = issuedAt ?? self.issuedAt
        return AccessTokenClaims(issuer: issuer ?? self.issuer, subject: "248289761001", audience: ["https://api.example.com"],
                                 clientID: "web", scope: Scope(["openid", "profile"]), issuedAt: iat, expiresAt: iat + lifetime, jwtID: "jti-1")
    }

    /// The token in each format: JWT (RS256 and ES256) and opaque.
    func tokens(_ claims: AccessTokenClaims, kek: KeyEncryptionKey? = nil) throws -> [String] {
        [try JWTAccessToken.sign(claims, key: rsa), try JWTAccessToken.sign(claims, key: ec),
         try OpaqueTokenKeyring(kek: kek ?? self.kek).seal(claims)]
    }

    /// `token` with one character of its last part changed.
    func tampered(_ token: String, at offsetFromEnd: Int = 5) -> String {
        var bytes = Array(token.utf8)
        let index = bytes.count - offsetFromEnd
        bytes[index] = bytes[index] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test("A valid token in either format yields its claims")
    func valid() throws {
        for token in try tokens(claims()) {
            #expect(verifier.verify(token, keys: published, now: issuedAt + 10) == claims())
            #expect(verifier.verify(token, keys: published, now: issuedAt) == claims())
            #expect(verifier.verify(token, keys: published, now: issuedAt + 599) == claims())
        }
    }

    @Test("An expired token is refused, from its exp on (RFC 7519 §4.1.4)")
    func expired() throws {
        for token in try tokens(claims()) {
            #expect(verifier.verify(token, keys: published, now: issuedAt + 600) == nil)
            #expect(verifier.verify(token, keys: published, now: issuedAt + 3_600) == nil)
        }
    }

    @Test("A token issued more than the allowed clock skew in the future is refused")
    func issuedInTheFuture() throws {
        for token in try tokens(claims(issuedAt: issuedAt + AccessTokenVerifier.clockSkew)) {
            #expect(verifier.verify(token, keys: published, now: issuedAt) != nil)
        }
        for token in try tokens(claims(issuedAt: issuedAt + AccessTokenVerifier.clockSkew + 1)) {
            #expect(verifier.verify(token, keys: published, now: issuedAt) == nil)
        }
    }

    @Test("A token from another issuer is refused, in either format")
    func wrongIssuer() throws {
        for token in try tokens(claims(issuer: "https://other.example")) {
            #expect(verifier.verify(token, keys: published, now: issuedAt + 10) == nil)
        }
        let otherVerifier = AccessTokenVerifier(issuer: "https://issuer.example/", opaqueKeys: OpaqueTokenKeyring(kek: kek))
        for token in try tokens(claims()) {
            #expect(otherVerifier.verify(token, keys: published, now: issuedAt + 10) == nil)
        }
    }

    @Test("A tampered token is refused: payload, signature or seal")
    func tamperedTokens() throws {
        for token in try tokens(claims()) {
            #expect(verifier.verify(tampered(token), keys: published, now: issuedAt + 10) == nil)
            #expect(verifier.verify(String(token.dropLast(3)), keys: published, now: issuedAt + 10) == nil)
        }
        let jwt = try JWTAccessToken.sign(claims(), key: ec)
        let parts = jwt.split(separator: ".").map(String.init)
        var widened = claims()
        widened.scope = Scope(["openid", "profile", "admin"])
        widened.expiresAt += 86_400
        let swapped = parts[0] + "." + Base64URL.encode(Array(widened.json().utf8)) + "." + parts[2]
        #expect(verifier.verify(swapped, keys: published, now: issuedAt + 10) == nil)
    }

    @Test("A JWT whose typ is not at+jwt is refused, an ID token included (RFC 9068 §4)")
    func wrongType() throws {
        let idToken = try IDTokenClaims(issuer: issuer, subject: "248289761001", audience: "web", issuedAt: issuedAt,
                                        expiresAt: issuedAt + 600, authTime: issuedAt, nonce: "n", accessTokenHash: nil,
                                        sessionID: "s").sign(key: ec)
        #expect(verifier.verify(idToken, keys: published, now: issuedAt + 10) == nil)
        // Even carrying every access-token claim, a JWT typed otherwise is not an access token.
        for type in ["JWT", "jwt", "at+JWT", "application/jwt", nil] as [String?] {
            let token = try JWS.sign(payload: Array(claims().json().utf8), key: ec, type: type)
            #expect(verifier.verify(token, keys: published, now: issuedAt + 10) == nil, "typ \(type ?? "absent")")
        }
        let fullType = try JWS.sign(payload: Array(claims().json().utf8), key: ec, type: "application/at+jwt")
        #expect(verifier.verify(fullType, keys: published, now: issuedAt + 10) == claims())
    }

    @Test("A JWT signed by an unpublished key is refused")
    func unknownKey() throws {
        #expect(verifier.verify(try JWTAccessToken.sign(claims(), key: unpublished), keys: published, now: issuedAt + 10) == nil)
        #expect(verifier.verify(try JWTAccessToken.sign(claims(), key: ec), keys: [rsa.verificationKey], now: issuedAt + 10) == nil)
    }

    @Test("A JWT with a duplicate claim is refused (RFC 7519 §4)")
    func duplicateClaim() throws {
        let json = claims().json()
        let payload = "{\"iss\":\"https://evil.example\"," + json.dropFirst()
        let token = try JWS.sign(payload: Array(payload.utf8), key: ec, type: "at+jwt")
        #expect(verifier.verify(token, keys: published, now: issuedAt + 10) == nil)
    }

    @Test("An opaque token sealed under another key-encryption key is refused")
    func opaqueFromAnotherKEK() throws {
        let token = try OpaqueTokenKeyring(kek: otherKEK).seal(claims())
        #expect(verifier.verify(token, keys: published, now: issuedAt + 10) == nil)
        #expect(AccessTokenVerifier(issuer: issuer, opaqueKeys: OpaqueTokenKeyring(kek: otherKEK))
            .verify(token, keys: published, now: issuedAt + 10) == claims())
    }

    @Test("Garbage is refused", arguments: ["", "tsa_", "tsa_k1.", "tsa_garbage", "garbage", "a.b.c", "eyJhbGciOiJFUzI1NiJ9.e30.AAAA"])
    func garbage(token: String) {
        #expect(verifier.verify(token, keys: published, now: issuedAt + 10) == nil)
    }
}
