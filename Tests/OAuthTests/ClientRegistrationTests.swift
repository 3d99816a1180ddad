import Foundation
import Testing
@testable import OAuth

@Suite struct ClientRegistrationTests {
    static func web(id: String = "web", redirectURIs: [String] = ["https://app.example.com/cb"], postLogout: [String] = []) -> Client {
        Client(id: id, name: "", type: .public, authMethod: .none, grantTypes: [.authorizationCode], redirectURIs: redirectURIs,
               allowedScopes: Scope(["openid"]), defaultScopes: Scope([]), audiences: [], postLogoutRedirectURIs: postLogout,
               createdAt: Date(), updatedAt: Date())
    }

    @Test("A client id never has the form of a user's subject (a UUID, in any case)", arguments: [
        "5d1c8f0e-1111-4222-8333-444455556666", "5D1C8F0E-1111-4222-8333-444455556666", UUID().uuidString.lowercased(),
    ])
    func clientIDsAreNotUUIDs(id: String) {
        #expect(Self.web(id: id).problem?.contains("UUID") == true)
    }

    @Test("Client ids that merely look a little like a UUID are fine", arguments: [
        "5d1c8f0e-1111-4222-8333-44445555666", "5d1c8f0e11114222833344445555666600", "billing", "{5d1c8f0e-1111-4222-8333-444455556666}",
    ])
    func otherIDs(id: String) {
        #expect(Self.web(id: id).problem == nil)
    }

    @Test("Redirect URIs that can be registered (RFC 9700 §2.6, RFC 8252 §7)", arguments: [
        "https://app.example.com/cb", "https://app.example.com:8443/cb?x=1", "http://127.0.0.1/cb", "http://127.0.0.1:8765/cb",
        "http://127.1.2.3:80/cb", "http://[::1]:9000/cb", "http://localhost:3000/cb", "HTTP://LOCALHOST/cb", "com.example.app:/oauth",
        "com.example.app:/oauth/callback", "https://app.example.com",
    ])
    func acceptedRedirectURIs(uri: String) {
        #expect(RedirectURI.registrationProblem(uri) == nil)
        #expect(Self.web(redirectURIs: [uri]).problem == nil)
        #expect(Self.web(postLogout: [uri]).problem == nil)
    }

    @Test("Redirect URIs that are refused: plain http off loopback, fragments, wildcards, user information, scripts", arguments: [
        "http://app.example.com/cb", "http://127.0.0.1.evil.example/cb", "http://10.0.0.1/cb", "http://[::2]/cb", "http://localhost.evil/cb",
        "https://app.example.com/cb#frag", "https://app.example.com/cb#", "https://*.example.com/cb", "https://app.example.com/*",
        "https://user@app.example.com/cb", "https://a:b@app.example.com/cb", "http://127.0.0.1@evil.example/cb",
        "javascript:alert(1)", "JavaScript://x/%0aalert(1)", "data:text/html,x", "file:///etc/passwd", "vbscript:x",
        "https:/app.example.com/cb", "https:///cb", "cb", "/cb", "http://[::1/cb", "http://256.0.0.1/cb", "http://127.0.0/cb",
    ])
    func refusedRedirectURIs(uri: String) {
        #expect(RedirectURI.registrationProblem(uri) != nil)
        #expect(Self.web(redirectURIs: [uri]).problem != nil)
        #expect(Self.web(postLogout: [uri]).problem != nil)
    }
}
