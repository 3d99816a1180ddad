import Foundation
import JOSE
import Testing
@testable import OAuth
import TestSupport

/// The grants of the token endpoint, against the in-memory twin of storage.
struct GrantFixture {
    let clock = TestClock()
    let storage: InMemoryStorage
    let observer = RecordingGrantObserver()
    let ring: KeyRing
    let minter: TokenMinter
    let refresh: RefreshSettings
    let user: User
    let web: Client
    let service: Client

    static let issuer = "https://as.example"
    static let redirectURI = "https://app.example/cb"
    static let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    static let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

    init() throws {
        let clock = self.clock
        storage = InMemoryStorage(clock: { clock.date })
        ring = try TestKeys.ring()
        let kek = try TestKeys.kek()
        minter = TokenMinter(accessTokens: AccessTokenIssuer(issuer: Self.issuer, defaultLifetime: 600, opaqueKeys: OpaqueTokenKeyring(kek: kek)),
                             idTokenLifetime: 3_600)
        refresh = RefreshSettings(defaultIdleLifetime: 3_600, defaultAbsoluteLifetime: 86_400, successorKey: Array(repeating: 9, count: 32))
        user = User(username: "alice", createdAt: clock.date, updatedAt: clock.date, passwordChangedAt: clock.date)
        storage.addUser(user)
        web = Client(id: "web", name: "", type: .public, authMethod: .none, grantTypes: [.authorizationCode, .refreshToken],
                     redirectURIs: [Self.redirectURI], allowedScopes: Scope(["openid", "offline_access", "profile"]), defaultScopes: Scope([]),
                     audiences: [], createdAt: clock.date, updatedAt: clock.date)
        service = Client(id: "svc", name: "", type: .confidential, authMethod: .clientSecretBasic, grantTypes: [.clientCredentials],
                         allowedScopes: Scope(["read", "write"]), defaultScopes: Scope(["read"]), audiences: ["https://api.example", "https://b.example"],
                         createdAt: clock.date, updatedAt: clock.date)
    }

    var codes: AuthorizationCodeGrant {
        let clock = self.clock
        return AuthorizationCodeGrant(codes: storage, users: storage, minter: minter, refresh: refresh, observer: observer, clock: { clock.date })
    }

    var refreshTokens: RefreshTokenGrant {
        let clock = self.clock
        return RefreshTokenGrant(tokens: storage, minter: minter, settings: refresh, observer: observer, clock: { clock.date })
    }

    /// Stores a code for `web` and returns its value.
    func code(scopes: [String] = ["openid", "offline_access"], expiresIn: TimeInterval = 60) async throws -> String {
        let value = AuthorizationCode.generate()
        try await storage.createCode(AuthorizationCode(
            clientID: web.id, userID: user.id, redirectURI: Self.redirectURI, codeChallenge: Self.challenge, scopes: scopes,
            audiences: [Self.issuer + "/userinfo"], nonce: "n-1", sid: "sid-1", authTime: clock.date, expiresAt: clock.date.addingTimeInterval(expiresIn)),
            digest: TokenDigest.of(value))
        return value
    }

    static func form(_ pairs: [String: String]) throws -> TokenRequest {
        try TokenRequest(body: Array(pairs.map { "\(FormURLEncoded.encode($0.key))=\(FormURLEncoded.encode($0.value))" }.joined(separator: "&").utf8))
    }

    static func redemption(_ code: String, verifier: String = verifier, redirectURI: String = redirectURI) throws -> TokenRequest {
        try form(["grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": redirectURI])
    }

    static func refresh(_ token: String, scope: String? = nil) throws -> TokenRequest {
        var pairs = ["grant_type": "refresh_token", "refresh_token": token]
        if let scope { pairs["scope"] = scope }
        return try form(pairs)
    }
}

/// The error a grant threw, as an ``OAuthError``.
func grantError(_ body: () async throws -> Void) async -> OAuthError? {
    do {
        try await body()
        return nil
    } catch let error as OAuthError {
        return error
    } catch {
        Issue.record("not an OAuthError: \(error)")
        return nil
    }
}

@Suite struct AuthorizationCodeGrantTests {
    @Test("A code redeems once for an access token, an ID token with nonce, sid and at_hash, and a refresh token (RFC 6749 §4.1.3, OIDC Core §3.1.3)")
    func redeems() async throws {
        let fixture = try GrantFixture()
        let response = try await fixture.codes.redeem(try GrantFixture.redemption(try await fixture.code()), client: fixture.web, ring: fixture.ring)
        #expect(response.accessToken.claims.subject == fixture.user.subject)
        #expect(response.accessToken.claims.username == "alice")
        #expect(response.refreshToken.map(RefreshTokenGrant.isWellFormed) == true)
        let idToken = try #require(response.idToken)
        let verified = try JWS.verify(idToken, keys: fixture.ring.publishedKeys)
        let claims = try #require(try? JSONValue(parsing: verified.payload))
        guard case .object(let members) = claims else { Issue.record("not an object"); return }
        #expect(members["nonce"]?.stringValue == "n-1" && members["sid"]?.stringValue == "sid-1")
        #expect(members["at_hash"]?.stringValue == IDTokenClaims.accessTokenHash(response.accessToken.token))
        #expect(fixture.storage.counts.families == 1)
    }

    @Test("Without offline_access an OpenID code gives no refresh token; without openid no ID token")
    func whatIsIssued() async throws {
        let fixture = try GrantFixture()
        let openID = try await fixture.codes.redeem(try GrantFixture.redemption(try await fixture.code(scopes: ["openid"])), client: fixture.web, ring: fixture.ring)
        #expect(openID.refreshToken == nil && openID.idToken != nil)
        let plain = try await fixture.codes.redeem(try GrantFixture.redemption(try await fixture.code(scopes: ["profile"])), client: fixture.web, ring: fixture.ring)
        #expect(plain.idToken == nil && plain.refreshToken != nil)
    }

    @Test("A wrong verifier, redirect URI or client is invalid_grant, and consumes the code (RFC 7636 §4.6, RFC 6749 §4.1.3)")
    func failedChecksConsume() async throws {
        let fixture = try GrantFixture()
        var other = fixture.web
        other.id = "other"
        for (request, client) in [(try GrantFixture.redemption("", verifier: "x" + GrantFixture.verifier.dropFirst()), fixture.web),
                                  (try GrantFixture.redemption("", redirectURI: "https://app.example/cb/"), fixture.web),
                                  (try GrantFixture.redemption(""), other)] {
            let code = try await fixture.code()
            var pairs = request.parameters
            pairs["code"] = code
            let error = await grantError {
                _ = try await fixture.codes.redeem(try GrantFixture.form(pairs), client: client, ring: fixture.ring)
            }
            #expect(error?.code == .invalidGrant)
            #expect(error?.errorDescription == AuthorizationCodeGrant.failureDescription)
            let retry = await grantError { _ = try await fixture.codes.redeem(try GrantFixture.redemption(code), client: fixture.web, ring: fixture.ring) }
            #expect(retry?.code == .invalidGrant, "the code was consumed by the failed attempt")
        }
        #expect(fixture.storage.counts.families == 0)
    }

    @Test("A replayed code is invalid_grant and revokes what it issued: the access token and the refresh family (RFC 6749 §4.1.2)")
    func replayRevokes() async throws {
        let fixture = try GrantFixture()
        let code = try await fixture.code()
        let first = try await fixture.codes.redeem(try GrantFixture.redemption(code), client: fixture.web, ring: fixture.ring)
        let error = await grantError { _ = try await fixture.codes.redeem(try GrantFixture.redemption(code), client: fixture.web, ring: fixture.ring) }
        #expect(error?.code == .invalidGrant)
        #expect(fixture.storage.revocations.isRevoked(first.accessToken.claims))
        #expect(fixture.observer.events.contains(.codeReplayed("web")))
        #expect(fixture.observer.events.contains { if case .revoked(let tokens) = $0 { tokens.map(\.jti) == [first.accessToken.claims.jwtID] } else { false } })
        let refreshed = await grantError {
            _ = try await fixture.refreshTokens.refresh(try GrantFixture.refresh(try #require(first.refreshToken)), client: fixture.web, ring: fixture.ring)
        }
        #expect(refreshed?.code == .invalidGrant, "the family died with the replay")
    }

    @Test("Expired, unknown and over-long codes are invalid_grant; a disabled user's code issues nothing")
    func refusals() async throws {
        let fixture = try GrantFixture()
        let expired = try await fixture.code(expiresIn: -1)
        for code in [expired, "unknown", String(repeating: "a", count: 300)] {
            let error = await grantError { _ = try await fixture.codes.redeem(try GrantFixture.redemption(code), client: fixture.web, ring: fixture.ring) }
            #expect(error?.code == .invalidGrant)
        }
        let code = try await fixture.code()
        fixture.storage.setDisabled(userID: fixture.user.id, true)
        let error = await grantError { _ = try await fixture.codes.redeem(try GrantFixture.redemption(code), client: fixture.web, ring: fixture.ring) }
        #expect(error?.code == .invalidGrant)
    }

    @Test("Missing code, redirect_uri or code_verifier is invalid_request (RFC 6749 §4.1.3, RFC 7636 §4.5)", arguments: ["code", "redirect_uri", "code_verifier"])
    func missingParameters(missing: String) async throws {
        let fixture = try GrantFixture()
        var pairs = try GrantFixture.redemption(try await fixture.code()).parameters
        pairs[missing] = nil
        let error = await grantError { _ = try await fixture.codes.redeem(try GrantFixture.form(pairs), client: fixture.web, ring: fixture.ring) }
        #expect(error?.code == .invalidRequest)
    }

    @Test("A storage failure at any step of a redemption leaves nothing changed: the code redeems afterwards", arguments: [
        InMemoryStorage.Step.begin, .createFamily, .recordAccessToken, .markCodeRedeemed, .commit,
    ])
    func failureInjection(step: InMemoryStorage.Step) async throws {
        let fixture = try GrantFixture()
        let code = try await fixture.code()
        fixture.storage.failNext(at: step)
        await #expect(throws: InMemoryStorage.InjectedFailure.self) {
            _ = try await fixture.codes.redeem(try GrantFixture.redemption(code), client: fixture.web, ring: fixture.ring)
        }
        #expect(fixture.storage.counts.families == 0 && fixture.storage.counts.tokens == 0)
        let response = try await fixture.codes.redeem(try GrantFixture.redemption(code), client: fixture.web, ring: fixture.ring)
        #expect(response.refreshToken != nil)
    }
}

@Suite struct RefreshTokenGrantTests {
    func family(_ fixture: GrantFixture, scopes: [String] = ["openid", "offline_access", "profile"]) async throws -> TokenResponse {
        try await fixture.codes.redeem(try GrantFixture.redemption(try await fixture.code(scopes: scopes)), client: fixture.web, ring: fixture.ring)
    }

    @Test("A refresh rotates: a new refresh token and access token, the ID token keeping auth_time and sid (RFC 6749 §6, OIDC Core §12.2)")
    func rotates() async throws {
        let fixture = try GrantFixture()
        let first = try await family(fixture)
        fixture.clock.advance(by: .seconds(5))
        let second = try await fixture.refreshTokens.refresh(try GrantFixture.refresh(try #require(first.refreshToken)), client: fixture.web, ring: fixture.ring)
        #expect(second.refreshToken != first.refreshToken)
        #expect(second.accessToken.claims.subject == fixture.user.subject && second.accessToken.claims.issuedAt > first.accessToken.claims.issuedAt)
        #expect(second.idToken != nil)
    }

    @Test("Reuse of a rotated token revokes the family and every access token from it (RFC 9700 §4.14.2)")
    func reuseRevokes() async throws {
        let fixture = try GrantFixture()
        let first = try await family(fixture)
        let token = try #require(first.refreshToken)
        let second = try await fixture.refreshTokens.refresh(try GrantFixture.refresh(token), client: fixture.web, ring: fixture.ring)
        let error = await grantError { _ = try await fixture.refreshTokens.refresh(try GrantFixture.refresh(token), client: fixture.web, ring: fixture.ring) }
        #expect(error?.code == .invalidGrant && error?.errorDescription == RefreshTokenGrant.failureDescription)
        #expect(fixture.storage.revocations.isRevoked(first.accessToken.claims) && fixture.storage.revocations.isRevoked(second.accessToken.claims))
        #expect(fixture.observer.events.contains { if case .refreshTokenReused("web", _) = $0 { true } else { false } })
        let latest = await grantError {
            _ = try await fixture.refreshTokens.refresh(try GrantFixture.refresh(try #require(second.refreshToken)), client: fixture.web, ring: fixture.ring)
        }
        #expect(latest?.code == .invalidGrant, "the latest token died with the family")
    }

    @Test("Within the client's grace window a retry gets the same successor; after it, reuse revokes")
    func grace() async throws {
        let fixture = try GrantFixture()
        var graceful = fixture.web
        graceful.refreshGrace = 10
        let first = try await fixture.codes.redeem(try GrantFixture.redemption(try await fixture.code()), client: graceful, ring: fixture.ring)
        let token = try #require(first.refreshToken)
        let a = try await fixture.refreshTokens.refresh(try GrantFixture.refresh(token), client: graceful, ring: fixture.ring)
        let b = try await fixture.refreshTokens.refresh(try GrantFixture.refresh(token), client: graceful, ring: fixture.ring)
        #expect(a.refreshToken == b.refreshToken)
        #expect(fixture.observer.events.contains { if case .refreshGraceRetry("web", _) = $0 { true } else { false } })
        fixture.clock.advance(by: .seconds(11))
        let late = await grantError { _ = try await fixture.refreshTokens.refresh(try GrantFixture.refresh(token), client: graceful, ring: fixture.ring) }
        #expect(late?.code == .invalidGrant)
    }

    @Test("Scope may narrow, never widen (RFC 6749 §6); another client's token is invalid_grant and changes nothing")
    func scopeAndClient() async throws {
        let fixture = try GrantFixture()
        let token = try #require(try await family(fixture).refreshToken)
        let wider = await grantError {
            _ = try await fixture.refreshTokens.refresh(try GrantFixture.refresh(token, scope: "openid admin"), client: fixture.web, ring: fixture.ring)
        }
        #expect(wider?.code == .invalidScope)
        var other = fixture.web
        other.id = "other"
        let stolen = await grantError { _ = try await fixture.refreshTokens.refresh(try GrantFixture.refresh(token), client: other, ring: fixture.ring) }
        #expect(stolen?.code == .invalidGrant)
        let narrow = try await fixture.refreshTokens.refresh(try GrantFixture.refresh(token, scope: "profile"), client: fixture.web, ring: fixture.ring)
        #expect(narrow.accessToken.claims.scope == Scope(["profile"]) && narrow.idToken == nil)
    }

    @Test("A disabled user's family cannot rotate; malformed and unknown tokens are invalid_grant")
    func refusals() async throws {
        let fixture = try GrantFixture()
        let token = try #require(try await family(fixture).refreshToken)
        for bad in ["tsr_short", "tsr_" + String(repeating: "A", count: 43)] {
            let error = await grantError { _ = try await fixture.refreshTokens.refresh(try GrantFixture.refresh(bad), client: fixture.web, ring: fixture.ring) }
            #expect(error?.code == .invalidGrant)
        }
        fixture.storage.setDisabled(userID: fixture.user.id, true)
        let error = await grantError { _ = try await fixture.refreshTokens.refresh(try GrantFixture.refresh(token), client: fixture.web, ring: fixture.ring) }
        #expect(error?.code == .invalidGrant)
    }

    @Test("A storage failure at any step of a rotation is not a use: the token still rotates afterwards", arguments: [
        InMemoryStorage.Step.begin, .markTokenUsed, .insertSuccessor, .recordAccessToken, .commit,
    ])
    func failureInjection(step: InMemoryStorage.Step) async throws {
        let fixture = try GrantFixture()
        let first = try await family(fixture)
        let token = try #require(first.refreshToken)
        fixture.storage.failNext(at: step)
        await #expect(throws: InMemoryStorage.InjectedFailure.self) {
            _ = try await fixture.refreshTokens.refresh(try GrantFixture.refresh(token), client: fixture.web, ring: fixture.ring)
        }
        let id = try #require(Self.familyID(fixture))
        #expect(fixture.storage.generations(of: id).map(\.used) == [false])
        _ = try await fixture.refreshTokens.refresh(try GrantFixture.refresh(token), client: fixture.web, ring: fixture.ring)
        #expect(fixture.storage.generations(of: id).map(\.used) == [true, false])
    }

    @Test("A failure while revoking a reused family leaves the family live for the next detection")
    func failureDuringReuse() async throws {
        let fixture = try GrantFixture()
        let token = try #require(try await family(fixture).refreshToken)
        _ = try await fixture.refreshTokens.refresh(try GrantFixture.refresh(token), client: fixture.web, ring: fixture.ring)
        fixture.storage.failNext(at: .revokeFamily)
        await #expect(throws: InMemoryStorage.InjectedFailure.self) {
            _ = try await fixture.refreshTokens.refresh(try GrantFixture.refresh(token), client: fixture.web, ring: fixture.ring)
        }
        let id = try #require(Self.familyID(fixture))
        #expect(fixture.storage.isFamilyRevoked(id) == false)
        let error = await grantError { _ = try await fixture.refreshTokens.refresh(try GrantFixture.refresh(token), client: fixture.web, ring: fixture.ring) }
        #expect(error?.code == .invalidGrant)
        #expect(fixture.storage.isFamilyRevoked(id) == true)
    }

    static func familyID(_ fixture: GrantFixture) -> UUID? {
        fixture.storage.familyIDs.first
    }
}

@Suite struct ClientCredentialsGrantIssueTests {
    @Test("The token is the client's own: sub and client_id are its id, default scope and first audience, no refresh token (RFC 6749 §4.4.3)")
    func issues() throws {
        let fixture = try GrantFixture()
        let grant = ClientCredentialsGrant(minter: fixture.minter, clock: { fixture.clock.date })
        let response = try grant.issue(try GrantFixture.form(["grant_type": "client_credentials"]), client: fixture.service, ring: fixture.ring)
        #expect(response.accessToken.claims.subject == "svc" && response.accessToken.claims.clientID == "svc")
        #expect(response.accessToken.claims.scope == Scope(["read"]) && response.accessToken.claims.audience == ["https://api.example"])
        #expect(response.refreshToken == nil && response.idToken == nil)
        let both = try grant.issue(try GrantFixture.form(["grant_type": "client_credentials", "scope": "read write", "audience": "https://b.example"]),
                                   client: fixture.service, ring: fixture.ring)
        #expect(both.accessToken.claims.audience == ["https://b.example"] && both.accessToken.claims.scope == Scope(["read", "write"]))
    }

    @Test("A scope or audience the client may not have is refused, never narrowed (invalid_scope, invalid_target)")
    func refusals() throws {
        let fixture = try GrantFixture()
        let grant = ClientCredentialsGrant(minter: fixture.minter, clock: { fixture.clock.date })
        do {
            _ = try grant.issue(try GrantFixture.form(["scope": "read admin"]), client: fixture.service, ring: fixture.ring)
            Issue.record("a scope beyond the client's was granted")
        } catch let error as OAuthError {
            #expect(error.code == .invalidScope)
        }
        do {
            _ = try grant.issue(try GrantFixture.form(["audience": "https://evil.example"]), client: fixture.service, ring: fixture.ring)
            Issue.record("a foreign audience was accepted")
        } catch let error as OAuthError {
            #expect(error.code == .invalidTarget)
        }
    }
}

@Suite struct TokenRevocationTests {
    @Test("A refresh token revokes its family and its access tokens; an access token is revoked alone; another client's is refused (RFC 7009 §2.1)")
    func revokes() async throws {
        let fixture = try GrantFixture()
        let tokens = try await fixture.codes.redeem(try GrantFixture.redemption(try await fixture.code()), client: fixture.web, ring: fixture.ring)
        let verifier = AccessTokenVerifier(issuer: GrantFixture.issuer, opaqueKeys: fixture.minter.accessTokens.opaqueKeys)
        let revocation = TokenRevocation(refreshTokens: fixture.storage, revocations: fixture.storage, verifier: verifier, observer: fixture.observer,
                                         clock: { fixture.clock.date })
        var other = fixture.web
        other.id = "other"
        let keys = fixture.ring.publishedKeys
        let refused = await grantError { _ = try await revocation.revoke(try #require(tokens.refreshToken), client: other, keys: keys) }
        #expect(refused?.code == .unauthorizedClient)
        #expect(!fixture.storage.revocations.isRevoked(tokens.accessToken.claims), "another client's attempt changed nothing")
        let outcome = try await revocation.revoke(tokens.accessToken.token, client: fixture.web, keys: keys)
        #expect(outcome == .accessTokenRevoked(jti: tokens.accessToken.claims.jwtID))
        guard case .familyRevoked = try await revocation.revoke(try #require(tokens.refreshToken), client: fixture.web, keys: keys) else {
            Issue.record("family not revoked")
            return
        }
        #expect(try await revocation.revoke("garbage", client: fixture.web, keys: keys) == .nothing)
        #expect(try await revocation.revoke("tsr_" + String(repeating: "B", count: 43), client: fixture.web, keys: keys) == .nothing)
    }
}
