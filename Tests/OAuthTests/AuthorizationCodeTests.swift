import Foundation
import Testing
@testable import OAuth

@Suite struct AuthorizationCodeTests {
    /// RFC 7636 Appendix B: the verifier and its S256 challenge.
    static let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    static let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

    let client = Client(
        id: "web", name: "Web", type: .confidential, authMethod: .clientSecretBasic, grantTypes: [.authorizationCode],
        redirectURIs: ["https://app.example/Kallback"], allowedScopes: Scope(["openid"]), defaultScopes: Scope(["openid"]),
        audiences: [], createdAt: Date(), updatedAt: Date())

    var code: AuthorizationCode {
        AuthorizationCode(clientID: "web", userID: UUID(), redirectURI: "https://app.example/Kallback", codeChallenge: Self.challenge,
                          scopes: ["openid"], audiences: [], nonce: nil, sid: "s", authTime: Date(), expiresAt: Date())
    }

    func failure(_ client: Client? = nil, redirectURI: String = "https://app.example/Kallback", verifier: String = verifier) -> OAuthError? {
        do {
            try AuthorizationCodeGrant.check(code, client: client ?? self.client, redirectURI: redirectURI, verifier: verifier)
            return nil
        } catch {
            return error
        }
    }

    @Test("code, redirect_uri and code_verifier are required (RFC 6749 §4.1.3, RFC 7636 §4.5)", arguments: [
        "redirect_uri=https%3A%2F%2Fapp.example%2FKallback&code_verifier=\(verifier)",
        "code=c&code_verifier=\(verifier)",
        "code=c&redirect_uri=https%3A%2F%2Fapp.example%2FKallback",
    ])
    func missingParameters(body: String) throws {
        let request = try TokenRequest(body: Array(body.utf8))
        #expect(throws: OAuthError.self) { try AuthorizationCodeGrant.parameters(request) }
        do { _ = try AuthorizationCodeGrant.parameters(request) } catch { #expect(error.code == .invalidRequest) }
    }

    @Test("A code longer than 256 bytes is invalid_grant with the shared description")
    func longCode() throws {
        let request = try TokenRequest(body: Array("code=\(String(repeating: "c", count: 257))&redirect_uri=x&code_verifier=v".utf8))
        do {
            _ = try AuthorizationCodeGrant.parameters(request)
            Issue.record("accepted")
        } catch {
            #expect(error.code == .invalidGrant)
            #expect(error.errorDescription == AuthorizationCodeGrant.failureDescription)
        }
    }

    @Test("The code's client, redirect URI and the RFC 7636 Appendix B verifier pass")
    func passes() {
        #expect(failure() == nil)
    }

    @Test("Another client, another redirect URI, or a wrong verifier is invalid_grant, all with one description (RFC 6749 §4.1.3, RFC 7636 §4.6)")
    func failures() {
        var other = client
        other.id = "other"
        let failures = [
            failure(other), failure(redirectURI: "https://app.example/Kallback/"), failure(redirectURI: "https://app.example/kallback"),
            failure(verifier: String(Self.verifier.dropLast()) + "l"), failure(verifier: Self.challenge), failure(verifier: "short"),
        ]
        for failure in failures {
            #expect(failure?.code == .invalidGrant)
            #expect(failure?.errorDescription == AuthorizationCodeGrant.failureDescription)
        }
    }

    @Test("redirect_uri must be identical byte for byte, not merely canonically equivalent (RFC 6749 §4.1.3)")
    func redirectURIBytes() {
        // U+212A KELVIN SIGN is canonically equivalent to "K".
        #expect(failure(redirectURI: "https://app.example/\u{212A}allback")?.code == .invalidGrant)
    }
}
