import Foundation
import JOSE
import Synchronization
import Testing
@testable import OAuth
import TestSupport

/// An external identity provider's keys, as a directory answers them.
final class StaticIssuerDirectory: TrustedIssuerDirectory {
    let issuers: Mutex<[String: TrustedIssuer]>
    init(_ issuers: [TrustedIssuer]) { self.issuers = Mutex(Dictionary(uniqueKeysWithValues: issuers.map { ($0.issuer, $0) })) }
    func trustedIssuer(_ issuer: String, keyID: String?) async throws -> TrustedIssuer? { issuers.withLock { $0[issuer] } }
}

/// A revocation set held in memory (nil: not synchronised).
final class MemoryRevocations: RevocationChecking {
    let set = Mutex<RevocationSet?>(RevocationSet())
    func isRevoked(_ claims: AccessTokenClaims) async throws -> Bool { set.withLock { $0?.isRevoked(claims) ?? false } }
    func isRevokedImmediately(_ claims: AccessTokenClaims) -> Bool? { set.withLock { $0?.isRevoked(claims) } }
}

/// Token exchange (RFC 8693) against the in-memory twin of storage: a gateway swaps a person's token.
struct ExchangeFixture {
    let grants: GrantFixture
    let gateway: Client
    let orders: Client
    let idpKey: SigningKey
    let grant: TokenExchangeGrant

    static let exchange = "urn:ietf:params:oauth:grant-type:token-exchange"
    static let accessToken = TokenTypeIdentifier.accessToken.rawValue
    static let idp = "https://idp.example"

    init(prefix: String = "corp:") throws {
        grants = try GrantFixture()
        let date = grants.clock.date
        var gateway = Client(id: "gateway", name: "", type: .confidential, authMethod: .clientSecretBasic,
                             grantTypes: [.authorizationCode, .clientCredentials, .tokenExchange], redirectURIs: [GrantFixture.redirectURI],
                             allowedScopes: Scope(["openid", "orders:read", "orders:write"]), defaultScopes: Scope(["orders:read"]),
                             audiences: ["https://gateway.internal"], createdAt: date, updatedAt: date)
        gateway.exchange = TokenExchangePolicy(audiences: ["https://orders.internal", "orders"], allowsImpersonation: false, maximumDepth: 1)
        self.gateway = gateway
        var orders = Client(id: "orders", name: "", type: .confidential, authMethod: .clientSecretBasic, grantTypes: [.clientCredentials, .tokenExchange],
                            allowedScopes: Scope(["orders:read"]), defaultScopes: Scope([]), audiences: ["https://orders-self.internal"],
                            introspectableAudiences: ["https://orders.internal"], createdAt: date, updatedAt: date)
        orders.exchange = TokenExchangePolicy(audiences: ["https://payments.internal"], allowsImpersonation: false, maximumDepth: 2)
        self.orders = orders
        idpKey = try SigningKey.generate(.es256)
        let clock = grants.clock
        let directory = StaticIssuerDirectory([TrustedIssuer(issuer: Self.idp, audiences: ["edge"], subjectPrefix: prefix, keys: [idpKey.verificationKey])])
        let verifier = AccessTokenVerifier(issuer: GrantFixture.issuer, opaqueKeys: grants.minter.accessTokens.opaqueKeys)
        grant = TokenExchangeGrant(minter: grants.minter, validators: [
            LocalTokenValidator(verifier: verifier, revocations: grants.storage), ExternalTokenValidator(directory: directory),
        ], clock: { clock.date })
    }

    /// The person's token issued to `client` in login session `sid-1`.
    func userToken(client: Client? = nil, scope: [String] = ["openid", "orders:read", "orders:write"], format: Client.TokenFormat = .jwt)
        throws -> IssuedAccessToken {
        var client = client ?? gateway
        client.accessTokenFormat = format
        return try grants.minter.mint(client: client, subject: grants.user.subject, username: grants.user.username, scope: Scope(scope),
                                      audiences: [GrantFixture.issuer + "/userinfo"], sessionID: "sid-1", now: grants.clock.date, ring: grants.ring).accessToken
    }

    /// The client's own client_credentials token: what it presents as the actor.
    func ownToken(_ client: Client) throws -> String {
        try ClientCredentialsGrant(minter: grants.minter, clock: { [clock = grants.clock] in clock.date })
            .issue(try GrantFixture.form(["grant_type": "client_credentials"]), client: client, ring: grants.ring).accessToken.token
    }

    func request(subject: String, subjectType: String = accessToken, actor: String? = nil, _ extra: [String: String] = [:]) throws -> TokenRequest {
        var pairs = ["grant_type": Self.exchange, "subject_token": subject, "subject_token_type": subjectType]
        if let actor {
            pairs["actor_token"] = actor
            pairs["actor_token_type"] = Self.accessToken
        }
        pairs.merge(extra) { $1 }
        return try GrantFixture.form(pairs)
    }

    func exchange(_ request: TokenRequest, client: Client? = nil) async throws -> TokenExchangeResult {
        try await grant.exchange(request, client: client ?? gateway, ring: grants.ring)
    }

    /// A JWT the external identity provider signed.
    func external(_ overrides: [String: Any?] = [:], key: SigningKey? = nil) throws -> String {
        let now = Int(grants.clock.date.timeIntervalSince1970)
        var claims: [String: Any] = ["iss": Self.idp, "sub": "alice@example.com", "aud": "edge", "exp": now + 300, "iat": now, "scope": "orders:read"]
        for (name, value) in overrides { claims[name] = value }
        let payload = try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys])
        return try JWS.sign(payload: Array(payload), key: key ?? idpKey, type: "JWT")
    }

    func claims(_ token: String) throws -> AccessTokenClaims {
        try #require(AccessTokenVerifier(issuer: GrantFixture.issuer, opaqueKeys: grants.minter.accessTokens.opaqueKeys)
            .verify(token, keys: grants.ring.publishedKeys, now: Int64(grants.clock.date.timeIntervalSince1970)))
    }
}

@Suite struct TokenExchangeGrantTests {
    @Test("Delegation keeps sub, adds act, names the client, narrows scope and audience, ends with the subject token (RFC 8693 §2.2.1, §4.1)")
    func delegation() async throws {
        let fixture = try ExchangeFixture()
        let subject = try fixture.userToken()
        let result = try await fixture.exchange(try fixture.request(subject: subject.token, actor: try fixture.ownToken(fixture.gateway),
                                                                    ["resource": "https://orders.internal", "scope": "orders:read"]))
        let claims = try fixture.claims(result.response.accessToken.token)
        #expect(claims.subject == fixture.grants.user.subject && claims.clientID == "gateway")
        #expect(claims.actors == [ActorIdentity(subject: "gateway")])
        #expect(claims.audience == ["https://orders.internal"] && claims.scope == Scope(["orders:read"]))
        #expect(claims.expiresAt <= subject.claims.expiresAt && claims.sessionID == "sid-1")
        #expect(claims.derivedFrom == [TokenAncestor(jwtID: subject.claims.jwtID, clientID: "gateway", issuedAt: subject.claims.issuedAt)])
        #expect(result.response.refreshToken == nil && result.depth == 1)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(result.response.json.utf8)) as? [String: Any])
        #expect(body["issued_token_type"] as? String == ExchangeFixture.accessToken && body["token_type"] as? String == "Bearer")
        #expect(body["refresh_token"] == nil)
    }

    @Test("Without scope the issued scope is what the subject token and the client both allow; wider is invalid_scope, never narrowed")
    func scope() async throws {
        let fixture = try ExchangeFixture()
        let subject = try fixture.userToken(scope: ["openid", "orders:read", "profile"])
        let actor = try fixture.ownToken(fixture.gateway)
        let result = try await fixture.exchange(try fixture.request(subject: subject.token, actor: actor))
        #expect(result.response.accessToken.claims.scope == Scope(["openid", "orders:read"]), "profile is not the gateway's")
        for wider in ["orders:write", "profile", "orders:read admin"] {
            let error = await grantError { _ = try await fixture.exchange(try fixture.request(subject: subject.token, actor: actor, ["scope": wider])) }
            #expect(error?.code == .invalidScope, "\(wider)")
        }
    }

    @Test("An audience or resource outside the client's exchange audiences is invalid_target (RFC 8693 §2.2.2)")
    func audience() async throws {
        let fixture = try ExchangeFixture()
        let subject = try fixture.userToken().token
        let actor = try fixture.ownToken(fixture.gateway)
        for target in [["resource": "https://elsewhere.internal"], ["audience": "billing"], ["resource": "relative/path"],
                       ["resource": "https://orders.internal#x"]] {
            let error = await grantError { _ = try await fixture.exchange(try fixture.request(subject: subject, actor: actor, target)) }
            #expect(error?.code == .invalidTarget, "\(target)")
        }
        let named = try await fixture.exchange(try fixture.request(subject: subject, actor: actor, ["audience": "orders"]))
        #expect(named.response.accessToken.claims.audience == ["orders"])
    }

    @Test("Missing, mismatched or unsupported parameters are invalid_request (RFC 8693 §2.1, §2.2.2)")
    func parameters() async throws {
        let fixture = try ExchangeFixture()
        let subject = try fixture.userToken().token
        let actor = try fixture.ownToken(fixture.gateway)
        let cases: [[String: String]] = [
            ["grant_type": ExchangeFixture.exchange, "subject_token_type": ExchangeFixture.accessToken],
            ["grant_type": ExchangeFixture.exchange, "subject_token": subject],
            ["grant_type": ExchangeFixture.exchange, "subject_token": subject, "subject_token_type": TokenTypeIdentifier.saml2.rawValue],
            ["grant_type": ExchangeFixture.exchange, "subject_token": subject, "subject_token_type": TokenTypeIdentifier.refreshToken.rawValue],
            ["grant_type": ExchangeFixture.exchange, "subject_token": subject, "subject_token_type": ExchangeFixture.accessToken, "actor_token": actor],
            ["grant_type": ExchangeFixture.exchange, "subject_token": subject, "subject_token_type": ExchangeFixture.accessToken,
             "actor_token_type": ExchangeFixture.accessToken],
            ["grant_type": ExchangeFixture.exchange, "subject_token": subject, "subject_token_type": ExchangeFixture.accessToken, "actor_token": actor,
             "actor_token_type": ExchangeFixture.accessToken, "requested_token_type": TokenTypeIdentifier.idToken.rawValue],
        ]
        for pairs in cases {
            let error = await grantError { _ = try await fixture.exchange(try GrantFixture.form(pairs)) }
            #expect(error?.code == .invalidRequest, "\(pairs.keys.sorted())")
        }
    }

    @Test("A client that may only delegate needs an actor; one that may impersonate gets a token without act")
    func impersonation() async throws {
        let fixture = try ExchangeFixture()
        let subject = try fixture.userToken().token
        let refused = await grantError { _ = try await fixture.exchange(try fixture.request(subject: subject)) }
        #expect(refused?.code == .invalidRequest)
        var impersonator = fixture.gateway
        impersonator.exchange.allowsImpersonation = true
        let issued = try await fixture.exchange(try fixture.request(subject: subject), client: impersonator)
        #expect(issued.response.accessToken.claims.actors.isEmpty && issued.actor == nil)
    }

    @Test("Chains nest act, are limited by the client's depth, and a delegated token is never exchanged by impersonation")
    func chains() async throws {
        let fixture = try ExchangeFixture()
        let first = try await fixture.exchange(try fixture.request(subject: try fixture.userToken().token, actor: try fixture.ownToken(fixture.gateway)))
        let token = first.response.accessToken.token
        let second = try await fixture.exchange(try fixture.request(subject: token, actor: try fixture.ownToken(fixture.orders)), client: fixture.orders)
        let claims = second.response.accessToken.claims
        #expect(claims.actors == [ActorIdentity(subject: "orders"), ActorIdentity(subject: "gateway")] && second.depth == 2)
        #expect(claims.derivedFrom.count == 2 && claims.derivedFrom[1].jwtID == first.response.accessToken.claims.jwtID)
        var shallow = fixture.orders
        shallow.exchange.maximumDepth = 1
        let tooDeep = await grantError { _ = try await fixture.exchange(try fixture.request(subject: token, actor: try fixture.ownToken(shallow)), client: shallow) }
        #expect(tooDeep?.code == .invalidRequest)
        var impersonator = fixture.orders
        impersonator.exchange.allowsImpersonation = true
        let lost = await grantError { _ = try await fixture.exchange(try fixture.request(subject: token), client: impersonator) }
        #expect(lost?.code == .invalidRequest)
    }

    @Test("A subject token issued to another client and meant for none of its audiences, or an actor token not its own, is refused")
    func ownership() async throws {
        let fixture = try ExchangeFixture()
        var other = fixture.gateway
        other.id = "other"
        let foreignSubject = try fixture.userToken(client: other).token
        let error = await grantError {
            _ = try await fixture.exchange(try fixture.request(subject: foreignSubject, actor: try fixture.ownToken(fixture.gateway)))
        }
        #expect(error?.code == .invalidRequest && error?.errorDescription == TokenExchangeGrant.subjectFailureDescription)
        let wrongActor = await grantError {
            _ = try await fixture.exchange(try fixture.request(subject: try fixture.userToken().token, actor: try fixture.ownToken(fixture.orders)))
        }
        #expect(wrongActor?.errorDescription == TokenExchangeGrant.actorFailureDescription)
    }

    @Test("A revoked or expired subject token is refused, and ending its session revokes what was exchanged from it")
    func revocation() async throws {
        let fixture = try ExchangeFixture()
        let subject = try fixture.userToken(format: .opaque)
        let actor = try fixture.ownToken(fixture.gateway)
        let issued = try await fixture.exchange(try fixture.request(subject: subject.token, actor: actor))
        let exchanged = issued.response.accessToken.claims
        #expect(try await fixture.grants.storage.isRevoked(exchanged) == false)
        try await fixture.grants.storage.createSession(LoginSession(sid: "sid-1", userID: fixture.grants.user.id, authTime: fixture.grants.clock.date,
                                                                    expiresAt: fixture.grants.clock.date + 3_600), digest: [1])
        try await fixture.grants.storage.endSession(digest: [1], revokingTokens: true)
        #expect(try await fixture.grants.storage.isRevoked(exchanged), "logging out ends the exchanged token")
        let refused = await grantError { _ = try await fixture.exchange(try fixture.request(subject: subject.token, actor: actor)) }
        #expect(refused?.code == .invalidRequest, "the subject token ended with its session")

        let fresh = try ExchangeFixture()
        let token = try fresh.userToken()
        try await fresh.grants.storage.revokeAccessToken(jti: token.claims.jwtID, expiresAt: fresh.grants.clock.date + 600, reason: "test")
        let revoked = await grantError { _ = try await fresh.exchange(try fresh.request(subject: token.token, actor: try fresh.ownToken(fresh.gateway))) }
        #expect(revoked?.code == .invalidRequest)
        let later = try fresh.userToken()
        fresh.grants.clock.advance(by: .seconds(601))
        let expired = await grantError { _ = try await fresh.exchange(try fresh.request(subject: later.token, actor: try fresh.ownToken(fresh.gateway))) }
        #expect(expired?.code == .invalidRequest)
    }

    @Test("When revocations cannot be read the exchange fails and issues nothing")
    func storageFailure() async throws {
        let fixture = try ExchangeFixture()
        let subject = try fixture.userToken().token
        let actor = try fixture.ownToken(fixture.gateway)
        fixture.grants.storage.failNext(at: .begin)
        await #expect(throws: InMemoryStorage.InjectedFailure.self) {
            _ = try await fixture.exchange(try fixture.request(subject: subject, actor: actor))
        }
    }

    @Test("An ID token is a subject token only for the client it was issued to (OIDC Core §3.1.3.7)")
    func idToken() async throws {
        let fixture = try ExchangeFixture()
        let minted = try fixture.grants.minter.mint(
            client: fixture.gateway, subject: fixture.grants.user.subject, username: nil, scope: Scope(["openid"]), audiences: ["https://x.example"],
            now: fixture.grants.clock.date, ring: fixture.grants.ring,
            authentication: AuthenticationContext(authTime: fixture.grants.clock.date, nonce: nil, sid: "sid-1"))
        let idToken = try #require(minted.idToken)
        let actor = try fixture.ownToken(fixture.gateway)
        let issued = try await fixture.exchange(try fixture.request(subject: idToken, subjectType: TokenTypeIdentifier.idToken.rawValue, actor: actor))
        #expect(issued.response.accessToken.claims.scope == fixture.gateway.defaultScopes, "an ID token carries no scope: the client's defaults")
        #expect(issued.response.accessToken.claims.sessionID == "sid-1")
        let mismatched = await grantError { _ = try await fixture.exchange(try fixture.request(subject: idToken, actor: actor)) }
        #expect(mismatched?.code == .invalidRequest, "an ID token presented as an access token")
        var other = fixture.orders
        other.exchange.allowsImpersonation = true
        let notTheirs = await grantError {
            _ = try await fixture.exchange(try fixture.request(subject: idToken, subjectType: TokenTypeIdentifier.idToken.rawValue), client: other)
        }
        #expect(notTheirs?.code == .invalidRequest)
    }

    @Test("An external issuer's token is verified and its subject prefixed; bad signatures, audiences and times are refused")
    func external() async throws {
        let fixture = try ExchangeFixture()
        let actor = try fixture.ownToken(fixture.gateway)
        let jwt = TokenTypeIdentifier.jwt.rawValue
        let issued = try await fixture.exchange(try fixture.request(subject: try fixture.external(), subjectType: jwt, actor: actor))
        let claims = issued.response.accessToken.claims
        #expect(claims.subject == "corp:alice@example.com" && claims.scope == Scope(["orders:read"]) && claims.derivedFrom.isEmpty)
        #expect(issued.subject.issuer == ExchangeFixture.idp)
        let now = Int(fixture.grants.clock.date.timeIntervalSince1970)
        let impostor = try SigningKey.generate(.es256)
        let bad: [String] = [
            try fixture.external(key: impostor), try fixture.external(["aud": "other"]), try fixture.external(["exp": now - 1]),
            try fixture.external(["exp": nil]), try fixture.external(["nbf": now + 3_600]), try fixture.external(["sub": nil]),
            try fixture.external(["scope": 3]), try fixture.external(["act": ["iss": "x"]]), try fixture.external(["may_act": "x"]),
        ]
        for token in bad {
            let error = await grantError { _ = try await fixture.exchange(try fixture.request(subject: token, subjectType: jwt, actor: actor)) }
            #expect(error?.code == .invalidRequest)
        }
    }

    @Test("may_act names the one party that may act: the actor, or the client itself when it impersonates (RFC 8693 §4.4)")
    func mayAct() async throws {
        let fixture = try ExchangeFixture()
        var gateway = fixture.gateway
        gateway.exchange.allowsImpersonation = true
        let actor = try fixture.ownToken(gateway)
        let jwt = TokenTypeIdentifier.jwt.rawValue
        let allowed = try fixture.external(["may_act": ["sub": "gateway", "iss": GrantFixture.issuer]])
        _ = try await fixture.exchange(try fixture.request(subject: allowed, subjectType: jwt, actor: actor), client: gateway)
        _ = try await fixture.exchange(try fixture.request(subject: allowed, subjectType: jwt), client: gateway)
        for mayAct in [["sub": "admin"], ["sub": "gateway", "iss": "https://elsewhere.example"]] {
            let token = try fixture.external(["may_act": mayAct])
            let error = await grantError { _ = try await fixture.exchange(try fixture.request(subject: token, subjectType: jwt, actor: actor), client: gateway) }
            #expect(error?.code == .invalidRequest, "\(mayAct)")
        }
    }

    @Test("An external subject that looks like a local user's (a UUID) or the client's own id is refused without a prefix")
    func localLookalikes() async throws {
        let fixture = try ExchangeFixture(prefix: "")
        let actor = try fixture.ownToken(fixture.gateway)
        let jwt = TokenTypeIdentifier.jwt.rawValue
        for subject in [UUID().uuidString.lowercased(), "gateway"] {
            let error = await grantError {
                _ = try await fixture.exchange(try fixture.request(subject: try fixture.external(["sub": subject]), subjectType: jwt, actor: actor))
            }
            #expect(error?.code == .invalidRequest, "\(subject)")
        }
        _ = try await fixture.exchange(try fixture.request(subject: try fixture.external(), subjectType: jwt, actor: actor))
    }

    @Test("A JWT is asked for with requested_token_type jwt whatever the client's format")
    func requestedType() async throws {
        let fixture = try ExchangeFixture()
        var opaque = fixture.gateway
        opaque.accessTokenFormat = .opaque
        let subject = try fixture.userToken(client: opaque, format: .opaque).token
        let actor = try fixture.ownToken(opaque)
        let own = try await fixture.exchange(try fixture.request(subject: subject, actor: actor), client: opaque)
        #expect(own.response.accessToken.token.hasPrefix("tsa_") && own.issuedTokenType == .accessToken)
        let asJWT = try await fixture.exchange(try fixture.request(subject: subject, actor: actor,
                                                                   ["requested_token_type": TokenTypeIdentifier.jwt.rawValue]), client: opaque)
        #expect(!asJWT.response.accessToken.token.hasPrefix("tsa_") && asJWT.issuedTokenType == .jwt)
        #expect(try fixture.claims(asJWT.response.accessToken.token).actors == [ActorIdentity(subject: "gateway")])
    }

    @Test("A token verified once is served from the cache only while unexpired and while its key is still published")
    func verifiedCache() async throws {
        let fixture = try ExchangeFixture()
        let subject = try fixture.userToken()
        let actor = try fixture.ownToken(fixture.gateway)
        _ = try await fixture.exchange(try fixture.request(subject: subject.token, actor: actor))
        _ = try await fixture.exchange(try fixture.request(subject: subject.token, actor: actor))
        let rsa = try #require(TestKeys.rsa)
        // The ES256 key is retired at once (removed from the JWKS): its tokens are refused even though they were cached.
        let withoutEC = KeyRing(signingKeys: [.rs256: rsa], publishedKeys: [rsa.verificationKey], jwks: JWKS(keys: [rsa.publicJWK]))
        let error = await grantError { _ = try await fixture.grant.exchange(try fixture.request(subject: subject.token, actor: actor), client: fixture.gateway, ring: withoutEC) }
        #expect(error?.code == .invalidRequest)
        let cache = VerifiedTokenCache(capacity: 2)
        let digest = VerifiedTokenCache.digest(subject.token)
        cache.insert(digest: digest, claims: subject.claims, keyID: "k", now: 0)
        #expect(cache.claims(digest: digest, now: subject.claims.expiresAt, publishedKeys: fixture.grants.ring.publishedKeys) == nil, "expired")
        cache.insert(digest: [1], claims: subject.claims, keyID: nil, now: 0)
        cache.insert(digest: [2], claims: subject.claims, keyID: nil, now: 0)
        #expect(cache.claims(digest: [2], now: subject.claims.issuedAt, publishedKeys: []) != nil, "opaque entries need no key")
        #expect(cache.claims(digest: digest, now: subject.claims.issuedAt, publishedKeys: fixture.grants.ring.publishedKeys) == nil, "evicted at capacity")
    }

    @Test("Without waiting, an exchange of this server's tokens is answered from memory; anything else is left to the full path")
    func immediate() async throws {
        let fixture = try ExchangeFixture()
        let memory = MemoryRevocations()
        let verifier = AccessTokenVerifier(issuer: GrantFixture.issuer, opaqueKeys: fixture.grants.minter.accessTokens.opaqueKeys)
        let local = LocalTokenValidator(verifier: verifier, revocations: memory)
        let subject = try fixture.userToken()
        let actor = try fixture.ownToken(fixture.gateway)
        let request = try fixture.request(subject: subject.token, actor: actor, ["scope": "orders:read"])
        let answered = try #require(fixture.grant.exchangeImmediately(request, client: fixture.gateway, ring: fixture.grants.ring,
                                                                      validate: local.validateImmediately))
        let full = try await fixture.exchange(request)
        var expected = full.response.accessToken.claims
        expected.jwtID = answered.response.accessToken.claims.jwtID
        #expect(answered.response.accessToken.claims == expected && answered.actor?.subject == "gateway")
        // Refusals, external tokens and unknown revocation state all take the full path.
        #expect(fixture.grant.exchangeImmediately(try fixture.request(subject: subject.token, actor: actor, ["scope": "admin"]), client: fixture.gateway,
                                                  ring: fixture.grants.ring, validate: local.validateImmediately) == nil)
        #expect(fixture.grant.exchangeImmediately(try fixture.request(subject: try fixture.external(), subjectType: TokenTypeIdentifier.jwt.rawValue, actor: actor),
                                                  client: fixture.gateway, ring: fixture.grants.ring, validate: local.validateImmediately) == nil)
        memory.set.withLock { $0?.revoke(jti: subject.claims.jwtID, expiresAt: subject.claims.expiresAt) }
        #expect(fixture.grant.exchangeImmediately(request, client: fixture.gateway, ring: fixture.grants.ring, validate: local.validateImmediately) == nil)
        memory.set.withLock { $0 = nil }
        let other = try fixture.request(subject: try fixture.userToken().token, actor: actor)
        #expect(fixture.grant.exchangeImmediately(other, client: fixture.gateway, ring: fixture.grants.ring, validate: local.validateImmediately) == nil,
                "an unsynchronised set answers nothing from memory")
    }

    @Test("Exchange policies are checked at registration")
    func registration() {
        var client = ExchangeFixture.clientTemplate
        #expect(client.problem == nil)
        client.exchange.audiences = []
        #expect(client.problem?.contains("exchange audience") == true)
        client.exchange.audiences = ["https://a.example"]
        client.exchange.maximumDepth = 6
        #expect(client.problem != nil)
        client.exchange.maximumDepth = 2
        client.type = .public
        client.authMethod = .none
        #expect(client.problem != nil)
    }
}

extension ExchangeFixture {
    static var clientTemplate: Client {
        var client = Client(id: "gw", name: "", type: .confidential, authMethod: .clientSecretBasic, grantTypes: [.tokenExchange],
                            allowedScopes: Scope(["a"]), defaultScopes: Scope([]), audiences: [], createdAt: Date(), updatedAt: Date())
        client.exchange = TokenExchangePolicy(audiences: ["https://a.example"])
        return client
    }
}
