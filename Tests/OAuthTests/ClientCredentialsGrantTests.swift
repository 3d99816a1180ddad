import Foundation
import Testing
@testable import OAuth

@Suite struct ClientCredentialsGrantTests {
    let client = Client(
        id: "billing", name: "Billing", type: .confidential, authMethod: .clientSecretBasic, grantTypes: [.clientCredentials],
        allowedScopes: Scope(["invoices:read", "invoices:write"]), defaultScopes: Scope(["invoices:read"]),
        audiences: ["https://api.example.com", "https://other.example.com/v1"], createdAt: Date(), updatedAt: Date())

    @Test("No scope parameter grants the client's default scopes (RFC 6749 §3.3)")
    func defaultScope() throws {
        #expect(try ClientCredentialsGrant.scope(requested: nil, client: client) == Scope(["invoices:read"]))
    }

    @Test("A subset of the allowed scopes is granted as asked")
    func subset() throws {
        #expect(try ClientCredentialsGrant.scope(requested: "invoices:write", client: client) == Scope(["invoices:write"]))
    }

    @Test("A scope beyond the allowed ones is invalid_scope, never narrowed", arguments: ["invoices:read admin", "admin", "invoices:read  invoices:write", "\"q\""])
    func invalidScope(requested: String) {
        #expect(throws: OAuthError.self) { try ClientCredentialsGrant.scope(requested: requested, client: client) }
        do { _ = try ClientCredentialsGrant.scope(requested: requested, client: client) } catch { #expect(error.code == .invalidScope) }
    }

    @Test("No resource or audience binds the token to the client's first audience")
    func defaultAudience() throws {
        #expect(try ClientCredentialsGrant.audience(resources: [], audience: nil, client: client) == ["https://api.example.com"])
    }

    @Test("Repeated resource indicators bind the token to each (RFC 8707 §2)")
    func resources() throws {
        let audience = try ClientCredentialsGrant.audience(
            resources: ["https://api.example.com", "https://other.example.com/v1", "https://api.example.com"], audience: nil, client: client)
        #expect(audience == ["https://api.example.com", "https://other.example.com/v1"])
        #expect(try ClientCredentialsGrant.audience(resources: [], audience: "https://other.example.com/v1", client: client) == ["https://other.example.com/v1"])
    }

    @Test("A resource the client may not target, or not an absolute URI without fragment, is invalid_target (RFC 8707 §2)",
          arguments: ["https://evil.example", "https://api.example.com#frag", "api.example.com", "/relative", "1http://x", "http://a b"])
    func invalidTarget(resource: String) {
        do {
            _ = try ClientCredentialsGrant.audience(resources: [resource], audience: nil, client: client)
            Issue.record("accepted \(resource)")
        } catch {
            #expect(error.code == .invalidTarget)
        }
    }

    @Test("An unregistered audience parameter is invalid_target")
    func invalidAudienceParameter() {
        do {
            _ = try ClientCredentialsGrant.audience(resources: [], audience: "https://evil.example", client: client)
            Issue.record("accepted")
        } catch {
            #expect(error.code == .invalidTarget)
        }
    }

    @Test("Registration refuses client_credentials without an audience and audiences that are not absolute URIs")
    func registrationProblems() {
        var bare = client
        bare.audiences = []
        #expect(bare.problem != nil)
        var fragment = client
        fragment.audiences = ["https://api.example.com#x"]
        #expect(fragment.problem != nil)
        #expect(client.problem == nil)
    }
}
