import Testing
@testable import OAuth

@Suite struct PKCETests {
    // RFC 7636 Appendix B.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

    @Test("The RFC 7636 Appendix B verifier matches its S256 challenge")
    func appendixB() throws {
        #expect(try PKCE.validateChallenge(challenge, method: "S256") == challenge)
        #expect(PKCE.verify(verifier: verifier, challenge: challenge))
    }

    @Test("A different verifier does not match (RFC 7636 §4.6)")
    func mismatch() {
        #expect(!PKCE.verify(verifier: verifier.replacingOccurrences(of: "d", with: "e"), challenge: challenge))
    }

    @Test("plain, a missing method and a missing challenge are refused", arguments: [
        ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "plain"), ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", nil),
        ("short", "S256"), ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c+", "S256"),
    ] as [(String, String?)])
    func refused(challenge: String, method: String?) {
        #expect(throws: OAuthError.self) { try PKCE.validateChallenge(challenge, method: method) }
    }

    @Test("Verifiers outside 43–128 unreserved characters are malformed (RFC 7636 §4.1)",
          arguments: [String(repeating: "a", count: 42), String(repeating: "a", count: 129), String(repeating: "a", count: 42) + "+", String(repeating: "é", count: 43)])
    func malformedVerifier(verifier: String) {
        #expect(!PKCE.isWellFormedVerifier(verifier))
    }
}
