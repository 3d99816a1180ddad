import Foundation
import OAuth
import Postgres
import PostgresStorage
import Testing

@Suite(.enabled(if: ProcessInfo.processInfo.environment["PGHOST"] != nil, "needs PostgreSQL (make test provides one)"))
struct PostgresLoginStoreTests {
    /// A migrated schema with one user and one client, which every row of the login tables refers to.
    struct Fixture {
        let database: TestDatabase
        let store: PostgresLoginStore
        let users: PostgresUserStore
        let user: User
        let client: Client

        static func make() async throws -> Fixture {
            let database = try await TestDatabase.make()
            let users = PostgresUserStore(pool: database.pool)
            let now = Date()
            let user = User(username: "alice", email: "alice@example.com", isEmailVerified: true, name: "Alice Liddell",
                            createdAt: now, updatedAt: now, passwordChangedAt: now)
            try await users.create(user, passwordHash: "hash")
            let client = Client(
                id: "web", name: "Web", type: .confidential, authMethod: .clientSecretBasic, grantTypes: [.authorizationCode],
                redirectURIs: ["https://app.example/cb"], allowedScopes: Scope(["openid", "profile", "email"]),
                defaultScopes: Scope(["openid"]), audiences: ["https://api.example.com"], createdAt: now, updatedAt: now)
            try await PostgresClientStore(pool: database.pool).create(client, secretHash: "secret-hash")
            return Fixture(database: database, store: PostgresLoginStore(pool: database.pool), users: users, user: user, client: client)
        }

        /// Another user, for rows that must not be touched.
        func makeUser(_ username: String) async throws -> User {
            let now = Date()
            let other = User(username: username, createdAt: now, updatedAt: now, passwordChangedAt: now)
            try await users.create(other, passwordHash: "hash")
            return other
        }

        func count(_ table: String) async throws -> Int {
            // The table names come from the tests themselves.
            let rows = try await database.pool.query(PostgresQuery(unsafeSQL: "SELECT count(*)::int8 AS n FROM \(table)"))
            return try #require(rows.first).decode("n", as: Int.self)
        }
    }

    /// Now plus `seconds`, in whole seconds, so that it survives PostgreSQL's microsecond timestamps unchanged.
    static func time(_ seconds: TimeInterval) -> Date {
        Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + seconds).rounded(.down))
    }

    static func hash(_ secret: String) -> [UInt8] { TokenDigest.of(secret) }

    func session(_ fixture: Fixture, user: User? = nil, expiresIn: TimeInterval = 3_600) -> LoginSession {
        LoginSession(sid: LoginSession.newSID(), userID: (user ?? fixture.user).id, authTime: Self.time(-30), expiresAt: Self.time(expiresIn))
    }

    func code(_ fixture: Fixture, expiresIn: TimeInterval = 60, nonce: String? = "n-0S6_WzA2Mj",
              scopes: [String] = ["openid", "profile"]) -> AuthorizationCode {
        AuthorizationCode(clientID: fixture.client.id, userID: fixture.user.id, redirectURI: "https://app.example/cb?tab=1",
                          codeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", scopes: scopes,
                          audiences: ["https://api.example.com"], nonce: nonce, sid: "sid-1", authTime: Self.time(-30),
                          expiresAt: Self.time(expiresIn))
    }

    func authorizationRequest(state: String = "ünï & = state") -> AuthorizationRequest {
        AuthorizationRequest(clientID: "web", redirectURI: "https://app.example/cb", scopes: ["openid", "profile"], state: state,
                             nonce: "n\"1", codeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", prompts: [.login, .selectAccount],
                             maxAge: 0, loginHint: "alice", audiences: ["https://api.example.com"])
    }

    // MARK: Sessions

    @Test("A session is found by the hash of its cookie value with its user; unknown and expired ones are not")
    func sessions() async throws {
        let fixture = try await Fixture.make()
        let live = session(fixture)
        let secret = LoginSession.newSecret()
        try await fixture.store.createSession(live, digest: Self.hash(secret))
        let found = try #require(try await fixture.store.session(digest: Self.hash(secret)))
        #expect(found.session == live)
        #expect(found.user.id == fixture.user.id)
        #expect(found.user.username == "alice")
        #expect(found.user.email == "alice@example.com")
        #expect(found.user.name == "Alice Liddell")
        #expect(try await fixture.store.session(digest: Self.hash(LoginSession.newSecret())) == nil)
        #expect(try await fixture.store.session(digest: Array(secret.utf8)) == nil, "the raw cookie value is not the key")

        let expiredSecret = LoginSession.newSecret()
        try await fixture.store.createSession(session(fixture, expiresIn: -1), digest: Self.hash(expiredSecret))
        #expect(try await fixture.store.session(digest: Self.hash(expiredSecret)) == nil)
        await fixture.database.drop()
    }

    @Test("Ending a session returns its sid once; ending a user's sessions ends all of them and no one else's")
    func endingSessions() async throws {
        let fixture = try await Fixture.make()
        let first = session(fixture), second = session(fixture)
        let firstSecret = LoginSession.newSecret(), secondSecret = LoginSession.newSecret(), bobSecret = LoginSession.newSecret()
        try await fixture.store.createSession(first, digest: Self.hash(firstSecret))
        try await fixture.store.createSession(second, digest: Self.hash(secondSecret))
        let bob = try await fixture.makeUser("bob")
        try await fixture.store.createSession(session(fixture, user: bob), digest: Self.hash(bobSecret))

        #expect(try await fixture.store.endSession(digest: Self.hash(firstSecret)) == first.sid)
        #expect(try await fixture.store.session(digest: Self.hash(firstSecret)) == nil)
        #expect(try await fixture.store.endSession(digest: Self.hash(firstSecret)) == nil)
        #expect(try await fixture.store.session(digest: Self.hash(secondSecret)) != nil)

        try await fixture.store.createSession(session(fixture), digest: Self.hash(firstSecret + "again"))
        #expect(try await fixture.store.endSessions(userID: fixture.user.id) == 2)
        #expect(try await fixture.store.session(digest: Self.hash(secondSecret)) == nil)
        #expect(try await fixture.store.session(digest: Self.hash(firstSecret + "again")) == nil)
        #expect(try await fixture.store.session(digest: Self.hash(bobSecret))?.user.username == "bob")
        #expect(try await fixture.store.endSessions(userID: fixture.user.id) == 0)
        await fixture.database.drop()
    }

    @Test("A disabled user's session is still returned, with the user marked disabled: callers refuse it")
    func disabledUser() async throws {
        let fixture = try await Fixture.make()
        let secret = LoginSession.newSecret()
        try await fixture.store.createSession(session(fixture), digest: Self.hash(secret))
        try await fixture.users.setDisabled(id: fixture.user.id, true)
        let found = try #require(try await fixture.store.session(digest: Self.hash(secret)))
        #expect(found.user.isDisabled)
        try await fixture.users.setDisabled(id: fixture.user.id, false)
        #expect(try await fixture.store.session(digest: Self.hash(secret))?.user.isDisabled == false)
        // Deleting the user ends the session with it.
        try await fixture.users.delete(id: fixture.user.id)
        #expect(try await fixture.store.session(digest: Self.hash(secret)) == nil)
        await fixture.database.drop()
    }

    // MARK: Interactions

    @Test("An interaction keeps the request exactly, records the login, and finishes only once")
    func interactions() async throws {
        let fixture = try await Fixture.make()
        let id = Self.hash(LoginSession.newSecret()), browser = Self.hash(LoginSession.newSecret())
        let request = authorizationRequest()
        let expiresAt = Self.time(600)
        try await fixture.store.createInteraction(digest: id, browserDigest: browser, request: request, expiresAt: expiresAt)

        let stored = try #require(try await fixture.store.interaction(digest: id))
        #expect(stored.request == request)
        #expect(stored.request.state == "ünï & = state")
        #expect(stored.browserDigest == browser)
        #expect(stored.userID == nil)
        #expect(stored.sessionDigest == nil)
        #expect(stored.expiresAt == expiresAt)
        #expect(try await fixture.store.interaction(digest: browser) == nil)

        let sessionHash = Self.hash(LoginSession.newSecret())
        try await fixture.store.attachLogin(interactionDigest: id, userID: fixture.user.id, sessionDigest: sessionHash)
        let attached = try #require(try await fixture.store.interaction(digest: id))
        #expect(attached.userID == fixture.user.id)
        #expect(attached.sessionDigest == sessionHash)
        #expect(attached.request == request)

        #expect(try await fixture.store.finishInteraction(digest: id))
        #expect(try await fixture.store.finishInteraction(digest: id) == false)
        #expect(try await fixture.store.interaction(digest: id) == nil)
        #expect(try await fixture.store.finishInteraction(digest: Self.hash("never created")) == false)
        await fixture.database.drop()
    }

    @Test("An expired interaction is not returned")
    func expiredInteraction() async throws {
        let fixture = try await Fixture.make()
        let id = Self.hash(LoginSession.newSecret())
        try await fixture.store.createInteraction(digest: id, browserDigest: Self.hash("b"), request: authorizationRequest(), expiresAt: Self.time(-1))
        #expect(try await fixture.store.interaction(digest: id) == nil)
        await fixture.database.drop()
    }

    @Test("Concurrent finishes of one interaction: exactly one returns true")
    func concurrentFinish() async throws {
        let fixture = try await Fixture.make()
        let id = Self.hash(LoginSession.newSecret())
        try await fixture.store.createInteraction(digest: id, browserDigest: Self.hash("b"), request: authorizationRequest(), expiresAt: Self.time(600))
        let store = fixture.store
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 { group.addTask { try await store.finishInteraction(digest: id) } }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 1)
        await fixture.database.drop()
    }

    // MARK: Consent

    @Test("Consent accumulates: two grants leave the union of their scopes, for that user and client only")
    func consent() async throws {
        let fixture = try await Fixture.make()
        let userID = fixture.user.id
        #expect(try await fixture.store.consentedScope(userID: userID, clientID: "web") == Scope([]))
        try await fixture.store.grantConsent(userID: userID, clientID: "web", scope: Scope(["openid", "profile"]))
        #expect(try await fixture.store.consentedScope(userID: userID, clientID: "web") == Scope(["openid", "profile"]))
        try await fixture.store.grantConsent(userID: userID, clientID: "web", scope: Scope(["email", "profile"]))
        #expect(try await fixture.store.consentedScope(userID: userID, clientID: "web") == Scope(["openid", "profile", "email"]))
        let rows = try await fixture.database.pool.query("SELECT scopes FROM consents WHERE user_id = \(userID)")
        #expect(try rows.first?.decode("scopes", as: [String].self) == ["email", "openid", "profile"], "stored once each, sorted")

        let bob = try await fixture.makeUser("bob")
        #expect(try await fixture.store.consentedScope(userID: bob.id, clientID: "web") == Scope([]))
        #expect(try await fixture.store.consentedScope(userID: userID, clientID: "other") == Scope([]))
        await fixture.database.drop()
    }

    // MARK: Authorization codes

    @Test("A code is redeemed once; a second redemption revokes the access token issued from it (RFC 6749 §4.1.2)")
    func redeemOnce() async throws {
        let fixture = try await Fixture.make()
        let code = code(fixture)
        let secret = AuthorizationCode.generate()
        try await fixture.store.createCode(code, digest: Self.hash(secret))

        let firstExpiry = Self.time(600)
        let first = try await fixture.store.redeemCode(digest: Self.hash(secret), accessTokenJTI: "jti-first", accessTokenExpiresAt: firstExpiry)
        #expect(first == .redeemed(code))
        #expect(try await fixture.store.isAccessTokenRevoked(jti: "jti-first") == false)

        let second = try await fixture.store.redeemCode(digest: Self.hash(secret), accessTokenJTI: "jti-second", accessTokenExpiresAt: Self.time(600))
        // The replay names what it revoked, so the instance that saw it knows without a reload.
        #expect(second == .alreadyRedeemed(revoked: [AccessTokenRecord(jti: "jti-first", expiresAt: firstExpiry)]))
        #expect(try await fixture.store.isAccessTokenRevoked(jti: "jti-first"))
        #expect(try await fixture.store.isAccessTokenRevoked(jti: "jti-second") == false, "no token was issued on the failed redemption")
        #expect(try await fixture.store.redeemCode(digest: Self.hash(secret), accessTokenJTI: "jti-third", accessTokenExpiresAt: Self.time(600))
            .isAlreadyRedeemed)
        await fixture.database.drop()
    }

    @Test("A code without nonce round-trips with nonce nil")
    func codeWithoutNonce() async throws {
        let fixture = try await Fixture.make()
        let code = code(fixture, nonce: nil)
        try await fixture.store.createCode(code, digest: Self.hash("c"))
        #expect(try await fixture.store.redeemCode(digest: Self.hash("c"), accessTokenJTI: "j", accessTokenExpiresAt: Self.time(600)) == .redeemed(code))
        await fixture.database.drop()
    }

    @Test("An unknown code is notFound; an expired one is expired once, then alreadyRedeemed")
    func unknownAndExpired() async throws {
        let fixture = try await Fixture.make()
        #expect(try await fixture.store.redeemCode(digest: Self.hash("nope"), accessTokenJTI: "j0", accessTokenExpiresAt: Self.time(600)) == .notFound)

        let secret = AuthorizationCode.generate()
        try await fixture.store.createCode(code(fixture, expiresIn: -5), digest: Self.hash(secret))
        #expect(try await fixture.store.redeemCode(digest: Self.hash(secret), accessTokenJTI: "j1", accessTokenExpiresAt: Self.time(600)) == .expired)
        #expect(try await fixture.store.redeemCode(digest: Self.hash(secret), accessTokenJTI: "j2", accessTokenExpiresAt: Self.time(600)).isAlreadyRedeemed)
        #expect(try await fixture.store.isAccessTokenRevoked(jti: "j1") == false)
        #expect(try await fixture.store.isAccessTokenRevoked(jti: "j2") == false)
        await fixture.database.drop()
    }

    @Test("Twenty concurrent redemptions of one code: exactly one redeems it, the others see it redeemed (RFC 6749 §4.1.2)")
    func concurrentRedemption() async throws {
        let fixture = try await Fixture.make()
        let pool = PostgresPool(configuration: fixture.database.configuration, size: 10)
        let store = PostgresLoginStore(pool: pool)
        // Open every connection first, so that the redemptions overlap instead of waiting for connects.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<10 { group.addTask { try await pool.query("SELECT pg_sleep(0.05)") } }
            try await group.waitForAll()
        }
        for round in 0..<3 {
            let secret = AuthorizationCode.generate()
            try await store.createCode(code(fixture), digest: Self.hash(secret))
            let outcomes = try await withThrowingTaskGroup(of: (String, CodeRedemption).self) { group in
                for index in 0..<20 {
                    group.addTask {
                        let jti = "round\(round)-jti\(index)"
                        return (jti, try await store.redeemCode(digest: Self.hash(secret), accessTokenJTI: jti, accessTokenExpiresAt: Self.time(600)))
                    }
                }
                return try await group.reduce(into: [(String, CodeRedemption)]()) { $0.append($1) }
            }
            let winners = outcomes.filter { if case .redeemed = $0.1 { return true } else { return false } }
            #expect(winners.count == 1, "round \(round): \(outcomes.map { $0.1 })")
            #expect(outcomes.filter { $0.1.isAlreadyRedeemed }.count == 19)
            // Every loser revoked the winner's token, and only that one.
            let winner = winners.first?.0
            for (jti, _) in outcomes {
                let isRevoked = try await store.isAccessTokenRevoked(jti: jti)
                #expect(isRevoked == (jti == winner), "\(jti)")
            }
        }
        await pool.close()
        await fixture.database.drop()
    }

    // MARK: Revocation and cleanup

    @Test("A revoked access token is revoked once, however often it is revoked")
    func revocation() async throws {
        let fixture = try await Fixture.make()
        #expect(try await fixture.store.isAccessTokenRevoked(jti: "j") == false)
        try await fixture.store.revokeAccessToken(jti: "j", expiresAt: Self.time(600), reason: "test")
        try await fixture.store.revokeAccessToken(jti: "j", expiresAt: Self.time(600), reason: "again")
        #expect(try await fixture.store.isAccessTokenRevoked(jti: "j"))
        #expect(try await fixture.count("revoked_access_tokens") == 1)
        await fixture.database.drop()
    }

    @Test("The janitor deletes only expired rows, and keeps a redeemed code while its access token lives")
    func purge() async throws {
        let fixture = try await Fixture.make()
        let store = fixture.store
        // Sessions: one live, one expired.
        try await store.createSession(session(fixture), digest: Self.hash("live session"))
        try await store.createSession(session(fixture, expiresIn: -60), digest: Self.hash("expired session"))
        // Interactions: one live, one expired.
        try await store.createInteraction(digest: Self.hash("live interaction"), browserDigest: Self.hash("b"), request: authorizationRequest(),
                                          expiresAt: Self.time(600))
        try await store.createInteraction(digest: Self.hash("expired interaction"), browserDigest: Self.hash("b"), request: authorizationRequest(),
                                          expiresAt: Self.time(-60))
        // Revocations: one whose token still lives, one whose token has expired anyway.
        try await store.revokeAccessToken(jti: "live revocation", expiresAt: Self.time(600), reason: "test")
        try await store.revokeAccessToken(jti: "expired revocation", expiresAt: Self.time(-60), reason: "test")
        // Codes.
        let liveCode = code(fixture)
        try await store.createCode(liveCode, digest: Self.hash("live code"))
        try await store.createCode(code(fixture, expiresIn: -60), digest: Self.hash("expired code"))
        try await store.createCode(code(fixture, expiresIn: -60), digest: Self.hash("consumed expired code"))
        #expect(try await store.redeemCode(digest: Self.hash("consumed expired code"), accessTokenJTI: "x", accessTokenExpiresAt: Self.time(600)) == .expired)
        try await store.createCode(code(fixture), digest: Self.hash("redeemed, token alive"))
        try await store.createCode(code(fixture), digest: Self.hash("redeemed, token expired"))
        #expect(try await store.redeemCode(digest: Self.hash("redeemed, token alive"), accessTokenJTI: "alive", accessTokenExpiresAt: Self.time(600))
            != .notFound)
        #expect(try await store.redeemCode(digest: Self.hash("redeemed, token expired"), accessTokenJTI: "dead", accessTokenExpiresAt: Self.time(-60))
            != .notFound)
        // Both redeemed codes have now expired themselves.
        for name in ["redeemed, token alive", "redeemed, token expired"] {
            try await fixture.database.pool.query(
                "UPDATE authorization_codes SET expires_at = now() - interval '1 minute' WHERE code_sha256 = \(Self.hash(name))")
        }

        // 1 session, 1 interaction, 1 revocation, and 3 codes: expired, consumed expired, redeemed with a dead token.
        #expect(try await PostgresJanitor(pool: store.pool).sweep()?.values.reduce(0, +) == 6)
        #expect(try await fixture.count("login_sessions") == 1)
        #expect(try await store.session(digest: Self.hash("live session")) != nil)
        #expect(try await fixture.count("authorization_interactions") == 1)
        #expect(try await store.interaction(digest: Self.hash("live interaction")) != nil)
        #expect(try await store.isAccessTokenRevoked(jti: "live revocation"))
        #expect(try await store.isAccessTokenRevoked(jti: "expired revocation") == false)
        #expect(try await fixture.count("authorization_codes") == 2)
        // The kept redeemed code still revokes its token when replayed; the live code still redeems.
        #expect(try await store.redeemCode(digest: Self.hash("redeemed, token alive"), accessTokenJTI: "replay", accessTokenExpiresAt: Self.time(600))
            .isAlreadyRedeemed)
        #expect(try await store.isAccessTokenRevoked(jti: "alive"))
        #expect(try await store.redeemCode(digest: Self.hash("expired code"), accessTokenJTI: "y", accessTokenExpiresAt: Self.time(600)) == .notFound)
        #expect(try await store.redeemCode(digest: Self.hash("live code"), accessTokenJTI: "z", accessTokenExpiresAt: Self.time(600)) == .redeemed(liveCode))
        #expect(try await PostgresJanitor(pool: store.pool).sweep()?.values.reduce(0, +) == 0)
        await fixture.database.drop()
    }
}

extension PostgresLoginStore {
    /// A redemption that presents what the test codes were issued for (client `web`, the redirect
    /// URI, the RFC 7636 Appendix B verifier's challenge) and issues an access token, and a refresh
    /// family when one is given.
    func redeemCode(digest: [UInt8], accessTokenJTI: String, accessTokenExpiresAt: Date, family: RefreshFamilyStart? = nil,
                    clientID: String = "web", redirectURI: String = "https://app.example/cb?tab=1",
                    challenge: String? = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") async throws -> CodeRedemption {
        try await redeemCode(CodeRedemptionRequest(
            codeDigest: digest, clientID: clientID, redirectURI: redirectURI, verifierChallenge: challenge,
            accessToken: .init(jti: accessTokenJTI, expiresAt: accessTokenExpiresAt), refreshFamily: family))
    }
}
