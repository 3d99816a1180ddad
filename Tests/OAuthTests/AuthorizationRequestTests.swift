import Foundation
import Testing
@testable import OAuth

/// RFC 7636 Appendix B: the S256 challenge of the verifier `dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk`.
private let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

/// A confidential web client; it also registered a loopback URI, which gets no port flexibility.
private let web = Client(
    id: "web", name: "Web", type: .confidential, authMethod: .clientSecretBasic, grantTypes: [.authorizationCode],
    redirectURIs: ["https://app.example/cb", "http://127.0.0.1/cb"], allowedScopes: Scope(["openid", "profile", "email"]),
    defaultScopes: Scope(["profile", "openid"]), audiences: ["https://api.example.com", "https://other.example.com"],
    createdAt: Date(), updatedAt: Date())

/// A public native client with loopback redirect URIs (RFC 8252 §7.3).
private let native = Client(
    id: "native", name: "Native", type: .public, authMethod: .none, grantTypes: [.authorizationCode],
    redirectURIs: ["http://127.0.0.1/cb", "http://[::1]/cb", "http://localhost/cb", "com.example.app:/oauth"],
    allowedScopes: Scope(["openid", "profile"]), defaultScopes: Scope(["openid"]), audiences: ["https://api.example.com"],
    createdAt: Date(), updatedAt: Date())

/// A client that registered a redirect URI but may not use the authorization-code grant.
private let machine = Client(
    id: "machine", name: "Machine", type: .confidential, authMethod: .clientSecretBasic, grantTypes: [.clientCredentials],
    redirectURIs: ["https://app.example/cb"], allowedScopes: Scope(["openid"]), defaultScopes: Scope(["openid"]),
    audiences: ["https://api.example.com"], createdAt: Date(), updatedAt: Date())

private let base: [(String, String)] = [
    ("response_type", "code"), ("client_id", "web"), ("redirect_uri", "https://app.example/cb"),
    ("code_challenge", challenge), ("code_challenge_method", "S256"),
]

/// Encodes pairs as a query string.
private func encode(_ pairs: [(String, String)]) -> String {
    pairs.map { "\(FormURLEncoded.encode($0.0))=\(FormURLEncoded.encode($0.1))" }.joined(separator: "&")
}

/// The valid base request without the parameters named in `removing`, followed by `adding`.
private func query(removing: Set<String> = [], adding: [(String, String)] = []) -> String {
    encode(base.filter { !removing.contains($0.0) } + adding)
}

/// The same request with `name` set to `value` instead of the base's value.
private func query(setting name: String, to value: String) -> String {
    query(removing: [name], adding: [(name, value)])
}

/// Requests stage two must refuse with a redirectable error, and the code it must carry.
private let redirectableErrors: [(String, OAuthError.Code)] = [
    // OIDC Core §6.1, §6.2 and §3.1.2.6.
    (query(adding: [("request", "eyJhbGciOiJub25lIn0.e30.")]), .requestNotSupported),
    (query(adding: [("request_uri", "https://app.example/request.jwt")]), .requestURINotSupported),
    (query(adding: [("registration", "{\"logo_uri\":\"https://app.example/logo.png\"}")]), .registrationNotSupported),
    // RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once."
    (query(adding: [("scope", "openid"), ("scope", "profile")]), .invalidRequest),
    (query(adding: [("state", "a"), ("state", "b")]), .invalidRequest),
    (query(adding: [("response_type", "code")]), .invalidRequest),
    // RFC 6749 §4.1.1: response_type is REQUIRED.
    (query(removing: ["response_type"]), .invalidRequest),
    // RFC 6749 §4.1.2.1 unsupported_response_type; OAuth 2.1 has only "code".
    (query(setting: "response_type", to: "token"), .unsupportedResponseType),
    (query(setting: "response_type", to: "code id_token"), .unsupportedResponseType),
    (query(setting: "response_type", to: "id_token"), .unsupportedResponseType),
    (query(setting: "response_type", to: "CODE"), .unsupportedResponseType),
    (query(adding: [("response_mode", "fragment")]), .invalidRequest),
    (query(adding: [("response_mode", "form_post")]), .invalidRequest),
    // RFC 7636 §4.4.1: a missing code_challenge is invalid_request; Tessera takes S256 only.
    (query(removing: ["code_challenge"]), .invalidRequest),
    (query(removing: ["code_challenge_method"]), .invalidRequest),
    (query(setting: "code_challenge_method", to: "plain"), .invalidRequest),
    (query(setting: "code_challenge_method", to: "s256"), .invalidRequest),
    (query(setting: "code_challenge", to: "abc"), .invalidRequest),
    (query(setting: "code_challenge", to: String(challenge.dropLast()) + "!"), .invalidRequest),
    // RFC 6749 §4.1.2.1 invalid_scope.
    (query(adding: [("scope", "openid admin")]), .invalidScope),
    (query(adding: [("scope", "admin")]), .invalidScope),
    (query(adding: [("scope", "openid  profile")]), .invalidScope),
    // OIDC Core §3.1.2.1: "If this parameter contains none with any other value, an error is returned."
    (query(adding: [("prompt", "none login")]), .invalidRequest),
    (query(adding: [("prompt", "consent none")]), .invalidRequest),
    (query(adding: [("prompt", "bogus")]), .invalidRequest),
    (query(adding: [("prompt", "login Login")]), .invalidRequest),
    // OIDC Core §3.1.2.1: max_age is a number of seconds.
    (query(adding: [("max_age", "abc")]), .invalidRequest),
    (query(adding: [("max_age", "-1")]), .invalidRequest),
    (query(adding: [("max_age", "1.5")]), .invalidRequest),
    (query(adding: [("max_age", "+5")]), .invalidRequest),
    (query(adding: [("max_age", " 5")]), .invalidRequest),
    (query(adding: [("max_age", "1e3")]), .invalidRequest),
    (query(adding: [("max_age", "9999999999")]), .invalidRequest),
    // RFC 8707 §2 invalid_target.
    (query(adding: [("resource", "https://evil.example")]), .invalidTarget),
    (query(adding: [("resource", "https://api.example.com"), ("resource", "https://evil.example")]), .invalidTarget),
    (query(adding: [("resource", "https://api.example.com#fragment")]), .invalidTarget),
    (query(adding: [("resource", "/relative")]), .invalidTarget),
    // Bounds what one request can make the server store.
    (query(adding: [("state", String(repeating: "s", count: AuthorizationParameters.maximumValueBytes + 1))]), .invalidRequest),
]

@Suite struct AuthorizationRequestTests {
    /// Parses `query` and runs stage one, which must pass, then stage two against `client`.
    func outcome(_ query: String, client: Client = web) throws -> Result<AuthorizationRequest, OAuthError> {
        let parameters = try AuthorizationParameters(encoded: Array(query.utf8))
        #expect(try parameters.clientID() == client.id)
        let redirectURI = try parameters.redirectURI(for: client)
        do {
            return .success(try parameters.validate(client: client, redirectURI: redirectURI))
        } catch {
            return .failure(error)
        }
    }

    /// The request stage two accepts for `query`; records an issue when it refuses it.
    func accepted(_ query: String, client: Client = web, sourceLocation: SourceLocation = #_sourceLocation) throws -> AuthorizationRequest {
        switch try outcome(query, client: client) {
        case .success(let request): return request
        case .failure(let error):
            Issue.record("refused: \(error)", sourceLocation: sourceLocation)
            throw error
        }
    }

    /// The page error stage one raises for `query` and `client`, or nil when it accepts the client id and redirect URI.
    func pageError(_ query: String, client: Client = web) -> AuthorizationPageError? {
        do {
            let parameters = try AuthorizationParameters(encoded: Array(query.utf8))
            _ = try parameters.clientID()
            _ = try parameters.redirectURI(for: client)
            return nil
        } catch {
            return error
        }
    }

    // MARK: Stage one: errors shown to the person, never redirected (RFC 6749 §4.1.2.1)

    @Test("A valid request passes both stages and keeps every parameter")
    func validRequest() throws {
        let request = try accepted(query(adding: [
            ("scope", "profile openid"), ("state", "af0ifjsldkj"), ("nonce", "n-0S6_WzA2Mj"), ("prompt", "login consent"),
            ("max_age", "300"), ("login_hint", "alice"), ("resource", "https://other.example.com"),
        ]))
        #expect(request == AuthorizationRequest(
            clientID: "web", redirectURI: "https://app.example/cb", scopes: ["openid", "profile"], state: "af0ifjsldkj",
            nonce: "n-0S6_WzA2Mj", codeChallenge: challenge, prompts: [.login, .consent], maxAge: 300, loginHint: "alice",
            audiences: ["https://other.example.com"]))
        #expect(request.isOpenID)
    }

    @Test("A missing, empty, invalid or repeated client_id is a page error (RFC 6749 §4.1.2.1)", arguments: [
        encode([("redirect_uri", "https://app.example/cb")]),
        encode([("client_id", ""), ("redirect_uri", "https://app.example/cb")]),
        encode([("client_id", "web app"), ("redirect_uri", "https://app.example/cb")]),
        encode([("client_id", "wéb"), ("redirect_uri", "https://app.example/cb")]),
        encode([("client_id", "web"), ("client_id", "web"), ("redirect_uri", "https://app.example/cb")]),
        encode([("client_id", "web"), ("client_id", "other"), ("redirect_uri", "https://app.example/cb")]),
        encode([("client_id", ""), ("client_id", "web"), ("redirect_uri", "https://app.example/cb")]),
    ])
    func clientIDPageErrors(query: String) throws {
        let parameters = try AuthorizationParameters(encoded: Array(query.utf8))
        #expect(throws: AuthorizationPageError.self) { try parameters.clientID() }
    }

    @Test("A repeated client_id is a page error even when another parameter was repeated before it (RFC 6749 §4.1.2.1)")
    func repeatedClientIDAfterAnotherRepeat() throws {
        let query = encode([("state", "1"), ("state", "2"), ("client_id", "web"), ("client_id", "other"),
                            ("redirect_uri", "https://app.example/cb")])
        let parameters = try AuthorizationParameters(encoded: Array(query.utf8))
        #expect(throws: AuthorizationPageError.self, "client_id appears twice, so the client is not identified") {
            try parameters.clientID()
        }
    }

    @Test("A missing, empty or repeated redirect_uri is a page error (RFC 6749 §4.1.2.1)", arguments: [
        encode([("client_id", "web")]),
        encode([("client_id", "web"), ("redirect_uri", "")]),
        encode([("client_id", "web"), ("redirect_uri", "https://app.example/cb"), ("redirect_uri", "https://app.example/cb")]),
        encode([("client_id", "web"), ("redirect_uri", "https://app.example/cb"), ("redirect_uri", "https://evil.example/cb")]),
        encode([("client_id", "web"), ("redirect_uri", "https://evil.example/cb"), ("redirect_uri", "https://app.example/cb")]),
    ])
    func redirectURIPageErrors(query: String) {
        #expect(pageError(query) != nil)
    }

    @Test("A repeated redirect_uri is a page error even when another parameter was repeated before it (RFC 6749 §4.1.2.1)")
    func repeatedRedirectURIAfterAnotherRepeat() {
        let query = encode([("state", "1"), ("state", "2"), ("client_id", "web"),
                            ("redirect_uri", "https://app.example/cb"), ("redirect_uri", "https://evil.example/cb")])
        #expect(pageError(query) != nil, "redirect_uri appears twice, so it is not verified and errors must not be redirected")
    }

    @Test("A malformed encoding is a page error: nothing can be sent back", arguments: [
        "client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=%FF",
        "client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=%zz",
        "client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=%4",
    ])
    func malformedEncoding(query: String) {
        #expect(throws: AuthorizationPageError.self) { try AuthorizationParameters(encoded: Array(query.utf8)) }
    }

    @Test("A redirect_uri that is not registered byte for byte is a page error (RFC 9700 §4.1.3)", arguments: [
        "https://app.example/cb/", "https://app.example/CB", "https://APP.example/cb", "https://app.example/cb?x=1",
        "https://app.example/cb#f", "https://app.example:443/cb", "http://app.example/cb", "https://app.example/c", "https://evil.example/cb",
        "https://app.example/cb%20", " https://app.example/cb",
    ])
    func unregisteredRedirectURI(uri: String) {
        #expect(pageError(encode([("client_id", "web"), ("redirect_uri", uri)])) != nil)
    }

    @Test("Redirect URIs are compared byte for byte, not by Unicode canonical equivalence (RFC 9700 §4.1.3)", arguments: [
        // U+212A KELVIN SIGN and U+037E GREEK QUESTION MARK are canonically equivalent to "K" and ";".
        ("https://app.example/\u{212A}allback", "https://app.example/Kallback"),
        ("https://app.example/a\u{37E}b", "https://app.example/a;b"),
        ("http://127.0.0.1:8080/\u{212A}allback", "http://127.0.0.1/Kallback"),
    ])
    func canonicallyEquivalentRedirectURI(requested: String, registered: String) throws {
        // Terminals draw both the same; the comment shows the requested one's code points.
        let shown = Comment(rawValue: "requested " + requested.unicodeScalars.map { $0.isASCII ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined())
        #expect(Array(requested.utf8) != Array(registered.utf8))
        #expect(!RedirectURI.matches(requested, registered: [registered], allowsLoopbackPort: false), shown)
        #expect(!RedirectURI.matches(requested, registered: [registered], allowsLoopbackPort: true), shown)
        var client = native
        client.redirectURIs = [registered]
        #expect(client.problem == nil)
        #expect(pageError(encode([("client_id", "native"), ("redirect_uri", requested)]), client: client) != nil,
                "\(shown.rawValue): the browser would be sent to a URI that is not the registered one")
    }

    @Test("A public client's loopback IP redirect URI matches with any port (RFC 8252 §7.3)", arguments: [
        "http://127.0.0.1/cb", "http://127.0.0.1:51234/cb", "http://127.0.0.1:1/cb", "http://127.0.0.1:65535/cb",
        "http://[::1]/cb", "http://[::1]:8080/cb", "http://[::1]:51234/cb",
    ])
    func loopbackPortForPublicClients(uri: String) throws {
        let parameters = try AuthorizationParameters(encoded: Array(encode([("client_id", "native"), ("redirect_uri", uri)]).utf8))
        #expect(try parameters.redirectURI(for: native) == uri, "the request's own redirect URI is kept, with its port")
    }

    @Test("A loopback redirect URI registered with a port matches other ports for a public client (RFC 8252 §7.3)")
    func registeredWithPort() {
        let registered = ["http://127.0.0.1:5000/cb"]
        #expect(RedirectURI.matches("http://127.0.0.1:6000/cb", registered: registered, allowsLoopbackPort: true))
        #expect(RedirectURI.matches("http://127.0.0.1/cb", registered: registered, allowsLoopbackPort: true))
        #expect(!RedirectURI.matches("http://127.0.0.1:6000/cb", registered: registered, allowsLoopbackPort: false))
    }

    @Test("A confidential client gets no loopback port flexibility: exact matching only", arguments: [
        "http://127.0.0.1:51234/cb", "http://127.0.0.1:80/cb",
    ])
    func noLoopbackPortForConfidentialClients(uri: String) {
        #expect(pageError(encode([("client_id", "web"), ("redirect_uri", uri)])) != nil)
        #expect(pageError(encode([("client_id", "web"), ("redirect_uri", "http://127.0.0.1/cb")])) == nil)
    }

    @Test("Port flexibility never applies to localhost, other hosts, other schemes, other paths or invalid ports (RFC 8252 §7.3, §8.3)",
          arguments: [
              "http://localhost:1234/cb", "http://localhost:80/cb", "http://127.0.0.1.evil.example/cb", "http://127.0.0.1:99999/cb",
              "http://127.0.0.1:65536/cb", "http://127.0.0.1:/cb", "http://127.0.0.1:0051234/cb", "http://127.0.0.1:12ab/cb",
              "http://127.0.0.1:80@evil.example/cb", "http://127.0.0.1@evil.example/cb", "http://127.0.0.1:8080.evil.example/cb",
              "https://127.0.0.1:8080/cb", "http://127.0.0.2:8080/cb", "http://127.0.0.1:8080/cb/", "http://127.0.0.1:8080/other",
              "http://[::1].evil.example/cb", "http://[::1]:99999/cb", "http://[::2]:8080/cb", "http://[0:0:0:0:0:0:0:1]:8080/cb",
              "com.example.app:1234/oauth",
          ])
    func noLoopbackFlexibilityElsewhere(uri: String) {
        #expect(pageError(encode([("client_id", "native"), ("redirect_uri", uri)]), client: native) != nil)
    }

    // MARK: Stage two: errors sent to the verified redirect URI

    @Test("Each invalid request is refused with its registered error code, sent to the redirect URI", arguments: redirectableErrors)
    func redirectableError(query: String, code: OAuthError.Code) throws {
        switch try outcome(query) {
        case .success:
            Issue.record("accepted")
        case .failure(let error):
            #expect(error.code == code)
            #expect(error.isRedirectable)
        }
    }

    @Test("A client without the authorization_code grant is unauthorized_client (RFC 6749 §4.1.2.1)")
    func unauthorizedClient() throws {
        switch try outcome(query(setting: "client_id", to: "machine"), client: machine) {
        case .success: Issue.record("accepted")
        case .failure(let error): #expect(error.code == .unauthorizedClient)
        }
    }

    @Test("No scope parameter, or an empty one, grants the client's default scopes (RFC 6749 §3.3)",
          arguments: [query(), query(adding: [("scope", "")])])
    func defaultScopes(query: String) throws {
        #expect(try accepted(query).scopes == ["openid", "profile"])
    }

    @Test("A subset of the allowed scopes is granted as asked, sorted")
    func requestedScopes() throws {
        #expect(try accepted(query(adding: [("scope", "email openid")])).scopes == ["email", "openid"])
        #expect(try accepted(query(adding: [("scope", "email")])).isOpenID == false)
    }

    @Test("Prompt values are parsed, repeats folded; none alone is allowed (OIDC Core §3.1.2.1)")
    func prompts() throws {
        #expect(try accepted(query(adding: [("prompt", "none")])).prompts == [.none])
        #expect(try accepted(query(adding: [("prompt", "select_account login login")])).prompts == [.selectAccount, .login])
        #expect(try accepted(query()).prompts == [])
    }

    @Test("max_age is whole seconds, zero included (OIDC Core §3.1.2.1)")
    func maxAge() throws {
        #expect(try accepted(query(adding: [("max_age", "0")])).maxAge == 0)
        #expect(try accepted(query(adding: [("max_age", "3600")])).maxAge == 3600)
        #expect(try accepted(query(adding: [("max_age", "007")])).maxAge == 7)
        #expect(try accepted(query()).maxAge == nil)
    }

    @Test("Resource indicators pick registered audiences; none picks the client's first (RFC 8707 §2)")
    func resources() throws {
        #expect(try accepted(query()).audiences == ["https://api.example.com"])
        #expect(try accepted(query(adding: [("resource", "https://other.example.com")])).audiences == ["https://other.example.com"])
        let both = query(adding: [("resource", "https://other.example.com"), ("resource", "https://api.example.com"),
                                  ("resource", "https://other.example.com")])
        #expect(try accepted(both).audiences == ["https://other.example.com", "https://api.example.com"])
    }

    @Test("login_hint is kept only when it is a valid username", arguments: [
        ("alice", "alice"), ("Alice.Liddell@wonderland", "Alice.Liddell@wonderland"),
        ("alice smith", nil), ("ålice", nil), ("alice\t", nil), (String(repeating: "x", count: 65), nil),
        (String(repeating: "x", count: 64), String(repeating: "x", count: 64)),
    ] as [(String, String?)])
    func loginHint(hint: String, kept: String?) throws {
        #expect(try accepted(query(adding: [("login_hint", hint)])).loginHint == kept)
    }

    @Test("state and nonce are kept byte for byte (RFC 6749 §4.1.2: the exact value received)", arguments: [
        "af0ifjsldkj", "a b", " leading and trailing ", "a&b=c", "&=", "x=1&y=2", "ünïcødé 日本語 🙂", "100%", "+plus+", "%41",
        "quote\"back\\slash", "semi;colon,comma", "/?#[]@!$'()*",
    ])
    func stateAndNonce(value: String) throws {
        let request = try accepted(query(adding: [("state", value), ("nonce", value)]))
        #expect(request.state == value)
        #expect(request.nonce == value)
        #expect(Array(request.state?.utf8 ?? "".utf8) == Array(value.utf8))
    }

    @Test("A state encoded with + and with %20 for spaces decodes the same")
    func stateSpaceEncodings() throws {
        let plus = try accepted(query() + "&state=a+b%26c%3Dd")
        let percent = try accepted(query() + "&state=a%20b%26c%3dd")
        #expect(plus.state == "a b&c=d")
        #expect(percent.state == "a b&c=d")
    }

    // MARK: Fresh login

    func request(prompts: [AuthorizationRequest.Prompt] = [], maxAge: Int? = nil) -> AuthorizationRequest {
        AuthorizationRequest(clientID: "web", redirectURI: "https://app.example/cb", scopes: ["openid"], codeChallenge: challenge,
                             prompts: prompts, maxAge: maxAge, audiences: [])
    }

    @Test("prompt=login always asks for a fresh login (OIDC Core §3.1.2.1)")
    func promptLogin() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(request(prompts: [.login]).requiresFreshLogin(authTime: now, now: now))
        #expect(request(prompts: [.login], maxAge: 3600).requiresFreshLogin(authTime: now, now: now))
        #expect(!request(prompts: [.consent]).requiresFreshLogin(authTime: now.addingTimeInterval(-86_400), now: now))
        #expect(!request().requiresFreshLogin(authTime: now.addingTimeInterval(-86_400), now: now))
    }

    @Test("max_age=0 always asks for a fresh login (OIDC Core §3.1.2.1)")
    func maxAgeZero() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(request(maxAge: 0).requiresFreshLogin(authTime: now, now: now))
        #expect(request(maxAge: 0).requiresFreshLogin(authTime: now.addingTimeInterval(-1), now: now))
    }

    @Test("max_age asks for a fresh login only once the elapsed time exceeds it (OIDC Core §3.1.2.1)")
    func maxAgeElapsed() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let sixMinutes = request(maxAge: 360)
        #expect(sixMinutes.requiresFreshLogin(authTime: now.addingTimeInterval(-361), now: now))
        #expect(sixMinutes.requiresFreshLogin(authTime: now.addingTimeInterval(-360.5), now: now))
        #expect(!sixMinutes.requiresFreshLogin(authTime: now.addingTimeInterval(-360), now: now))
        #expect(!sixMinutes.requiresFreshLogin(authTime: now.addingTimeInterval(-10), now: now))
        #expect(!sixMinutes.requiresFreshLogin(authTime: now, now: now))
    }

    // MARK: Redirects

    @Test("Parameters are added to a redirect URI's existing query, and decode back to the exact state (RFC 6749 §4.1.2)")
    func addingToExistingQuery() throws {
        let state = "a b&c=d=é+%20"
        let uri = RedirectURI.adding([("code", "SplxlOBeZQQYbYS6WxSbIA"), ("state", state)], to: "https://app.example/cb?tab=1")
        #expect(uri == "https://app.example/cb?tab=1&code=SplxlOBeZQQYbYS6WxSbIA&state=a+b%26c%3Dd%3D%C3%A9%2B%2520")
        let query = try #require(uri.split(separator: "?", maxSplits: 1).last)
        let decoded = try FormURLEncoded.parameters(Array(query.utf8))
        #expect(decoded == ["tab": "1", "code": "SplxlOBeZQQYbYS6WxSbIA", "state": state])
    }

    @Test("Parameters start a query when there is none, and join one ending in ? or & without an empty pair")
    func addingQueryShapes() {
        let parameters = [("code", "c"), ("state", "s")]
        #expect(RedirectURI.adding(parameters, to: "https://app.example/cb") == "https://app.example/cb?code=c&state=s")
        #expect(RedirectURI.adding(parameters, to: "https://app.example/cb?") == "https://app.example/cb?code=c&state=s")
        #expect(RedirectURI.adding(parameters, to: "https://app.example/cb?x=1&") == "https://app.example/cb?x=1&code=c&state=s")
        #expect(RedirectURI.adding([], to: "https://app.example/cb?x=1") == "https://app.example/cb?x=1")
    }

    @Test("An error redirect carries error, a sanitized error_description, the state and iss (RFC 6749 §4.1.2.1, RFC 9207 §2)")
    func errorParameters() throws {
        let error = OAuthError(.invalidScope, "Bad \"scope\" é\\", detail: "secret detail")
        let withState = RedirectURI.errorParameters(error, state: "x&y", issuer: "https://issuer.example")
        #expect(withState.map(\.0) == ["error", "error_description", "state", "iss"])
        #expect(withState.map(\.1) == ["invalid_scope", "Bad scope ", "x&y", "https://issuer.example"])
        let withoutState = RedirectURI.errorParameters(error, state: nil, issuer: "https://issuer.example")
        #expect(withoutState.map(\.0) == ["error", "error_description", "iss"])
        let uri = RedirectURI.adding(withState, to: "https://app.example/cb")
        let decoded = try FormURLEncoded.parameters(Array(uri.split(separator: "?", maxSplits: 1)[1].utf8))
        #expect(decoded["state"] == "x&y")
        #expect(decoded["iss"] == "https://issuer.example")
        #expect(!uri.contains("secret"))
    }
}
