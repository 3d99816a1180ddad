import Testing
@testable import OAuth

@Suite struct FormURLEncodedTests {
    @Test("Pairs decode with + as space and percent-escapes as UTF-8")
    func decoding() throws {
        let parameters = try FormURLEncoded.parameters(Array("grant_type=client_credentials&scope=a+b%3Ac&x=%C3%A9&empty=&flag".utf8))
        #expect(parameters == ["grant_type": "client_credentials", "scope": "a b:c", "x": "é", "empty": "", "flag": ""])
    }

    @Test("A repeated parameter is refused (RFC 6749 §3.1)")
    func repeated() {
        #expect(throws: FormURLEncoded.DecodingError.repeatedParameter("scope")) {
            try FormURLEncoded.parameters(Array("scope=a&grant_type=x&scope=a".utf8))
        }
    }

    @Test("Malformed escapes and invalid UTF-8 are refused", arguments: ["a=%", "a=%4", "a=%zz", "a=%C3", "%=1", "a=%FF%FE"])
    func malformed(input: String) {
        #expect(throws: FormURLEncoded.DecodingError.self) { try FormURLEncoded.parameters(Array(input.utf8)) }
    }

    @Test("More parameters than the limit are refused")
    func tooMany() {
        let body = (0...FormURLEncoded.maxParameters).map { "p\($0)=1" }.joined(separator: "&")
        #expect(throws: FormURLEncoded.DecodingError.tooManyParameters) { try FormURLEncoded.parameters(Array(body.utf8)) }
    }

    @Test("encode and decode round-trip reserved characters")
    func roundTrip() throws {
        for text in ["a b", "x:y/z?&=+%", "ünï©ødé", "~-._*", ""] {
            #expect(try FormURLEncoded.decode(ArraySlice(FormURLEncoded.encode(text).utf8)) == text)
        }
    }
}

@Suite struct BasicCredentialsTests {
    func header(_ id: String, _ secret: String, encode: Bool = true) -> String {
        let raw = encode ? FormURLEncoded.encode(id) + ":" + FormURLEncoded.encode(secret) : id + ":" + secret
        return "Basic " + base64(Array(raw.utf8))
    }

    func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var out = ""
        var i = 0
        while i < bytes.count {
            let b0 = bytes[i], b1 = i + 1 < bytes.count ? bytes[i + 1] : 0, b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 3) << 4 | b1 >> 4)])
            out.append(i + 1 < bytes.count ? alphabet[Int((b1 & 15) << 2 | b2 >> 6)] : "=")
            out.append(i + 2 < bytes.count ? alphabet[Int(b2 & 63)] : "=")
            i += 3
        }
        return out
    }

    @Test("Reserved characters in id and secret are form-urldecoded after base64 (RFC 6749 §2.3.1)")
    func reservedCharacters() throws {
        let credentials = try #require(try BasicCredentials.parse(authorization: header("billing:svc@x", "s3cr3t:+/= %&é")))
        #expect(credentials == BasicCredentials(clientID: "billing:svc@x", secret: "s3cr3t:+/= %&é"))
    }

    @Test("The scheme is case-insensitive; other schemes are not Basic")
    func scheme() throws {
        #expect(try BasicCredentials.parse(authorization: "basic " + base64(Array("a:b".utf8)))?.clientID == "a")
        #expect(try BasicCredentials.parse(authorization: "Bearer abc") == nil)
    }

    @Test("Malformed Basic credentials are refused", arguments: [
        "Basic", "Basic ", "Basic !!!!", "Basic YWJj", "Basic YTpi=", "Basic Og==", "Basic YTpi YTpi", "Basic JXp6OmI=",
    ])
    func malformed(value: String) {
        #expect(throws: OAuthError.self) { try BasicCredentials.parse(authorization: value) }
    }
}

@Suite struct ScopeTests {
    @Test("Scopes parse into a set and print sorted")
    func parse() throws {
        let scope = try Scope(parsing: "invoices:write invoices:read")
        #expect(scope.tokens == ["invoices:read", "invoices:write"])
        #expect(scope.description == "invoices:read invoices:write")
    }

    @Test("Malformed scope strings are invalid_scope", arguments: ["", " a", "a  b", "a ", "a\"b", "a\\b", "é"])
    func malformed(text: String) {
        #expect(throws: OAuthError.self) { try Scope(parsing: text) }
    }
}

@Suite struct FormNULTests {
    @Test("A NUL in a name or value is refused at decoding, whatever the endpoint", arguments: [
        "state=a%00b", "a%00=1", "nonce=%00", "client_id=web%00&x=1",
    ])
    func nul(body: String) {
        #expect(throws: FormURLEncoded.DecodingError.nulCharacter) { try FormURLEncoded.pairs(Array(body.utf8)) }
        #expect(throws: AuthorizationPageError.self) { try AuthorizationParameters(encoded: Array(body.utf8)) }
    }

    @Test("A repeated state is never echoed with an error; a single one is, byte for byte")
    func repeatedState() throws {
        #expect(try AuthorizationParameters(encoded: Array("state=a&state=b".utf8)).echoableState == nil)
        #expect(try AuthorizationParameters(encoded: Array("state=a%20b&scope=x&scope=y".utf8)).echoableState == "a b")
    }
}
