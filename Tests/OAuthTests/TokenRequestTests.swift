import Testing
@testable import OAuth

@Suite struct TokenRequestTests {
    func parse(_ body: String) throws(OAuthError) -> TokenRequest { try TokenRequest(body: Array(body.utf8)) }

    @Test("A repeated parameter is invalid_request (RFC 6749 §3.2)", arguments: ["scope=a&scope=b", "grant_type=x&grant_type=x", "client_id=a&client_id="])
    func repeated(body: String) {
        do {
            _ = try parse(body)
            Issue.record("accepted \(body)")
        } catch {
            #expect(error.code == .invalidRequest)
        }
    }

    @Test("resource may repeat (RFC 8707 §2) and keeps its order")
    func resources() throws {
        let request = try parse("grant_type=client_credentials&resource=https%3A%2F%2Fa.example&resource=https://b.example")
        #expect(request.resources == ["https://a.example", "https://b.example"])
        #expect(request["grant_type"] == "client_credentials")
    }

    @Test("A parameter without a value is treated as omitted (RFC 6749 §3.1)")
    func emptyValue() throws {
        let request = try parse("grant_type=client_credentials&scope=&resource=")
        #expect(request["scope"] == nil)
        #expect(request.resources.isEmpty)
    }

    @Test("Malformed escapes and invalid UTF-8 are invalid_request", arguments: ["a=%zz", "a=%C3%28", "a=%"])
    func malformed(body: String) {
        do {
            _ = try parse(body)
            Issue.record("accepted \(body)")
        } catch {
            #expect(error.code == .invalidRequest)
        }
    }

    @Test("The error names only safe parameter names")
    func printableNames() {
        #expect(TokenRequest.printable("scope") == "scope")
        #expect(TokenRequest.printable("sc\"ope") == "a")
    }
}
