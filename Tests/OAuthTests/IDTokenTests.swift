import JOSE
import Testing
@testable import OAuth

/// Keys shared by the ID-token tests (RSA generation is slow); nil only if key generation itself fails.
private enum IDTokenFixtures {
    static let rsa = try? SigningKey.generate(.rs256)
    static let ec = try? SigningKey.generate(.es256)
    static let unpublished = try? SigningKey.generate(.es256)
}

private struct IDTokenFixtureUnavailable: Error {}

@Suite struct IDTokenTests {
    let rsa: SigningKey
    let ec: SigningKey
    /// A key the server never published.
    let unpublished: SigningKey
    let issuer = "https://issuer.example"

    init() throws {
        guard let rsa = IDTokenFixtures.rsa, let ec = IDTokenFixtures.ec, let unpublished = IDTokenFixtures.unpublished else {
            throw IDTokenFixtureUnavailable()
        }
        self.rsa = rsa
        self.ec = ec
        self.unpublished = unpublished
    }

    var published: [VerificationKey] { [rsa.verificationKey, ec.verificationKey] }

    func claims(nonce: String? = "n-0S6_WzA2Mj", accessTokenHash: String? = "77QmUPtjPfzWtF2AnpK9RQ", sessionID: String? = "sid-1",
                issuer: String? = nil) -> IDTokenClaims {
        IDTokenClaims(issuer: issuer ?? self.issuer, subject: "248289761001", audience: "s6BhdRkqt3", issuedAt: 1_311_280_970,
                      expiresAt: 1_311_281_970, authTime: 1_311_280_900, nonce: nonce, accessTokenHash: accessTokenHash, sessionID: sessionID)
    }

    /// A compact JWS over `payload` with an arbitrary header, signed by `key`.
    func forge(header: String, payload: String, signedBy key: SigningKey) throws -> String {
        let input = Base64URL.encode(header) + "." + Base64URL.encode(Array(payload.utf8))
        return input + "." + Base64URL.encode(try key.sign(Array(input.utf8)))
    }

    // MARK: at_hash

    @Test("at_hash of OpenID Connect Core's example access token (OIDC Core §3.1.3.6, Appendix A.3)")
    func accessTokenHashVector() {
        // Appendix A.3 (response_type=id_token token): the access token and the at_hash in its ID token.
        #expect(IDTokenClaims.accessTokenHash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y") == "77QmUPtjPfzWtF2AnpK9RQ")
    }

    @Test("The same left-half construction gives Appendix A.4's c_hash for its code (OIDC Core §3.3.2.11)")
    func codeHashVector() {
        #expect(IDTokenClaims.accessTokenHash("Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk") == "LDktKdoQak3Pk0cnXxCltA")
    }

    @Test("at_hash is the base64url of the left-most 128 bits of SHA-256, 22 characters without padding")
    func accessTokenHashShape() throws {
        let hash = IDTokenClaims.accessTokenHash("tsa_k1.anything")
        #expect(hash.utf8.count == 22)
        #expect(!hash.contains("="))
        #expect(try #require(Base64URL.decode(hash)) == Array(SHA256.hash(Array("tsa_k1.anything".utf8)).prefix(16)))
    }

    // MARK: Claims

    @Test("The claims are strict JSON with every claim: iss, sub, aud, azp, exp, iat, auth_time, nonce, at_hash, sid (OIDC Core §2)")
    func jsonClaims() throws {
        var claims = claims()
        claims.nonce = "quote\" back\\slash ünï\u{1}"
        guard case .object(let object) = try JSONValue(parsing: Array(claims.json().utf8)) else {
            Issue.record("not an object")
            return
        }
        #expect(object == [
            "iss": .string("https://issuer.example"), "sub": .string("248289761001"), "aud": .string("s6BhdRkqt3"),
            "azp": .string("s6BhdRkqt3"), "exp": .number(1_311_281_970), "iat": .number(1_311_280_970),
            "auth_time": .number(1_311_280_900), "nonce": .string("quote\" back\\slash ünï\u{1}"),
            "at_hash": .string("77QmUPtjPfzWtF2AnpK9RQ"), "sid": .string("sid-1"),
        ])
    }

    @Test("nonce, at_hash and sid are left out when absent, not sent as null (OIDC Core §2: nonce only when the request had one)")
    func absentClaims() throws {
        let text = claims(nonce: nil, accessTokenHash: nil, sessionID: nil).json()
        guard case .object(let object) = try JSONValue(parsing: Array(text.utf8)) else {
            Issue.record("not an object")
            return
        }
        #expect(Set(object.keys) == ["iss", "sub", "aud", "azp", "exp", "iat", "auth_time"])
        #expect(!text.contains("null"))
        let onlyNonce = try JSONValue(parsing: Array(claims(accessTokenHash: nil, sessionID: nil).json().utf8))
        guard case .object(let members) = onlyNonce else { return }
        #expect(members["nonce"] == .string("n-0S6_WzA2Mj"))
        #expect(members["at_hash"] == nil)
    }

    @Test("A signed ID token carries typ JWT and the client's algorithm, and verifies with the published key")
    func signed() throws {
        for key in [rsa, ec] {
            let token = try claims().sign(key: key)
            let verified = try JWS.verify(token, keys: published)
            #expect(verified.header.typ == "JWT")
            #expect(verified.header.alg == key.algorithm.rawValue)
            #expect(verified.header.kid == key.kid)
            #expect(verified.payload == Array(claims().json().utf8))
        }
    }

    // MARK: id_token_hint

    @Test("An expired ID token signed by a published key is accepted as id_token_hint (OIDC RP-Initiated Logout §2)")
    func hintAcceptsExpired() throws {
        for key in [rsa, ec] {
            let token = try claims().sign(key: key)
            #expect(IDTokenHint.verify(token, keys: published, issuer: issuer)
                == IDTokenHint(subject: "248289761001", audience: ["s6BhdRkqt3"], sessionID: "sid-1"))
        }
        let withoutSID = try claims(sessionID: nil).sign(key: ec)
        #expect(IDTokenHint.verify(withoutSID, keys: published, issuer: issuer)?.sessionID == nil)
    }

    @Test("An id_token_hint with several audiences keeps them all")
    func hintAudienceArray() throws {
        let payload = #"{"iss":"https://issuer.example","sub":"u1","aud":["a","b"],"exp":1,"iat":1,"auth_time":1}"#
        let token = try forge(header: #"{"alg":"ES256","kid":"\#(ec.kid)","typ":"JWT"}"#, payload: payload, signedBy: ec)
        #expect(IDTokenHint.verify(token, keys: published, issuer: issuer) == IDTokenHint(subject: "u1", audience: ["a", "b"], sessionID: nil))
    }

    @Test("An id_token_hint from another issuer is refused")
    func hintWrongIssuer() throws {
        let token = try claims(issuer: "https://other.example").sign(key: ec)
        #expect(IDTokenHint.verify(token, keys: published, issuer: issuer) == nil)
        #expect(IDTokenHint.verify(try claims().sign(key: ec), keys: published, issuer: "https://issuer.example/") == nil)
    }

    @Test("An access token is not an id_token_hint, whether typ at+jwt or not (RFC 8725 §3.11)")
    func hintRefusesAccessTokens() throws {
        let access = AccessTokenClaims(issuer: issuer, subject: "248289761001", audience: ["s6BhdRkqt3"], clientID: "s6BhdRkqt3",
                                       scope: Scope(["openid"]), issuedAt: 1_311_280_970, expiresAt: 1_311_281_970, jwtID: "j1")
        #expect(IDTokenHint.verify(try JWTAccessToken.sign(access, key: ec), keys: published, issuer: issuer) == nil)
        #expect(IDTokenHint.verify(try JWTAccessToken.sign(access, key: rsa), keys: published, issuer: issuer) == nil)
        // The same claims under another typ are still an access token: client_id present, auth_time absent.
        for type in ["application/at+jwt", "JWT"] {
            let token = try JWS.sign(payload: Array(access.json().utf8), key: ec, type: type)
            #expect(IDTokenHint.verify(token, keys: published, issuer: issuer) == nil, "typ \(type)")
        }
        // Even with auth_time added, an access-token typ is refused.
        let payload = #"{"iss":"https://issuer.example","sub":"u1","aud":"c","exp":1,"iat":1,"auth_time":1}"#
        let typed = try forge(header: #"{"alg":"ES256","kid":"\#(ec.kid)","typ":"at+jwt"}"#, payload: payload, signedBy: ec)
        #expect(IDTokenHint.verify(typed, keys: published, issuer: issuer) == nil)
    }

    @Test("Garbage, unsigned and malformed tokens are refused", arguments: [
        "", "garbage", "a.b.c", "..", "a.b", "a.b.c.d", "eyJhbGciOiJFUzI1NiJ9.e30.AAAA",
        Base64URL.encode(#"{"alg":"none"}"#) + "." + Base64URL.encode(#"{"iss":"https://issuer.example","sub":"u","aud":"c","auth_time":1}"#) + ".",
    ])
    func hintGarbage(token: String) {
        #expect(IDTokenHint.verify(token, keys: published, issuer: issuer) == nil)
    }

    @Test("A token longer than JWS allows is refused")
    func hintTooLong() {
        #expect(IDTokenHint.verify(String(repeating: "A", count: JWS.maximumCompactLength + 1), keys: published, issuer: issuer) == nil)
    }

    @Test("A token signed by an unpublished key is refused, also when it names a published key's kid")
    func hintUnknownKey() throws {
        #expect(IDTokenHint.verify(try claims().sign(key: unpublished), keys: published, issuer: issuer) == nil)
        let forged = try forge(header: #"{"alg":"ES256","kid":"\#(ec.kid)","typ":"JWT"}"#, payload: claims().json(), signedBy: unpublished)
        #expect(IDTokenHint.verify(forged, keys: published, issuer: issuer) == nil)
        #expect(IDTokenHint.verify(try claims().sign(key: ec), keys: [], issuer: issuer) == nil)
    }

    @Test("A tampered ID token is refused")
    func hintTampered() throws {
        let token = try claims().sign(key: ec)
        let parts = token.split(separator: ".").map(String.init)
        let other = Base64URL.encode(Array(claims(issuer: nil).json().replacingOccurrences(of: "248289761001", with: "admin").utf8))
        #expect(IDTokenHint.verify(parts[0] + "." + other + "." + parts[2], keys: published, issuer: issuer) == nil)
    }

    @Test("A hint without sub or aud, or with a non-string aud, is refused")
    func hintMissingClaims() throws {
        for payload in [
            #"{"iss":"https://issuer.example","aud":"c","auth_time":1}"#,
            #"{"iss":"https://issuer.example","sub":"u","auth_time":1}"#,
            #"{"iss":"https://issuer.example","sub":"u","aud":5,"auth_time":1}"#,
            #"{"iss":"https://issuer.example","sub":"u","aud":"c","auth_time":1,"sub":"v"}"#,
            #"["https://issuer.example"]"#,
        ] {
            let token = try forge(header: #"{"alg":"ES256","kid":"\#(ec.kid)","typ":"JWT"}"#, payload: payload, signedBy: ec)
            #expect(IDTokenHint.verify(token, keys: published, issuer: issuer) == nil, "\(payload)")
        }
    }
}
