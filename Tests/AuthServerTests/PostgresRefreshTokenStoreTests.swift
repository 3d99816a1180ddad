import Foundation
import OAuth
import Postgres
import PostgresStorage
import Synchronization
import Testing

@Suite(.enabled(if: ProcessInfo.processInfo.environment["PGHOST"] != nil, "needs PostgreSQL (make test provides one)"))
struct PostgresRefreshTokenStoreTests {
    typealias Fixture = PostgresLoginStoreTests.Fixture

    struct InjectedFailure: Error {}

    /// A family started by a code redemption, as the token endpoint starts one; returns its first token.
    static func family(_ fixture: Fixture, expiresIn: TimeInterval = 3_600) async throws -> (family: RefreshTokenFamily, token: String) {
        let code = PostgresLoginStoreTests().code(fixture, scopes: ["openid", "offline_access", "profile"])
        let secret = LoginSession.newSecret()
        try await fixture.store.createCode(code, digest: TokenDigest.of(secret))
        let token = RefreshTokenGrant.newToken()
        let start = RefreshFamilyStart(expiresAt: Date().addingTimeInterval(expiresIn), tokenDigest: TokenDigest.of(token),
                                       tokenExpiresAt: Date().addingTimeInterval(600))
        let redemption = try await fixture.store.redeemCode(digest: TokenDigest.of(secret), accessTokenJTI: "jti-first-\(token.suffix(6))",
                                                           accessTokenExpiresAt: Date().addingTimeInterval(600), family: start)
        guard case .redeemed = redemption else { throw InjectedFailure() }
        let family = RefreshTokenFamily(id: start.id, clientID: code.clientID, userID: code.userID, scopes: code.scopes, audiences: code.audiences,
                                        authTime: code.authTime, sid: code.sid, expiresAt: start.expiresAt)
        return (family, token)
    }

    static let key = Array(repeating: UInt8(7), count: 32)

    static func rotate(_ store: PostgresRefreshTokenStore, _ token: String, client: String = "web", scope: Scope? = nil,
                       idle: TimeInterval = 600, grace: TimeInterval = 0, jti: String = UUID().uuidString,
                       beforeCommit: (@Sendable () throws -> Void)? = nil) async throws -> RefreshRotation {
        try await store.rotate(RefreshRotationRequest(
            tokenDigest: TokenDigest.of(token), clientID: client,
            successorDigest: TokenDigest.of(RefreshTokenGrant.successor(of: token, key: key)), requestedScope: scope,
            idleLifetime: idle, grace: grace, accessToken: .init(jti: jti, expiresAt: Date().addingTimeInterval(600))), beforeCommit: beforeCommit)
    }

    static func successor(_ token: String) -> String { RefreshTokenGrant.successor(of: token, key: key) }

    @Test("Rotation: each token rotates once; presenting a used one revokes the family and its access tokens (RFC 9700 §4.14.2)")
    func rotationAndReuse() async throws {
        let fixture = try await Fixture.make()
        let store = PostgresRefreshTokenStore(pool: fixture.database.pool)
        let (family, first) = try await Self.family(fixture)
        guard case .rotated(let rotated) = try await Self.rotate(store, first, jti: "jti-2") else { Issue.record("not rotated"); return }
        #expect(rotated.id == family.id && rotated.username == "alice")
        let second = Self.successor(first)
        guard case .rotated = try await Self.rotate(store, second, jti: "jti-3") else { Issue.record("successor not rotated"); return }
        guard case .reuseDetected(family.id, let revoked) = try await Self.rotate(store, first) else { Issue.record("reuse not detected"); return }
        // The reuse names what it revoked, so the instance that saw it knows without a reload.
        #expect(Set(revoked.map(\.jti)) == ["jti-first-\(first.suffix(6))", "jti-2", "jti-3"])
        for jti in ["jti-first-\(first.suffix(6))", "jti-2", "jti-3"] {
            #expect(try await fixture.store.isAccessTokenRevoked(jti: jti), "\(jti) revoked with its family")
        }
        guard case .invalid = try await Self.rotate(store, Self.successor(second)) else { Issue.record("latest still works"); return }
        await fixture.database.drop()
    }

    @Test("Another client, a wider scope: refused, and nothing changes")
    func refusalsChangeNothing() async throws {
        let fixture = try await Fixture.make()
        let store = PostgresRefreshTokenStore(pool: fixture.database.pool)
        let (_, token) = try await Self.family(fixture)
        guard case .invalid = try await Self.rotate(store, token, client: "someone-else") else { Issue.record("another client"); return }
        #expect(try await Self.rotate(store, token, scope: Scope(["openid", "email"])) == .invalidScope)
        guard case .rotated = try await Self.rotate(store, token, scope: Scope(["openid"])) else { Issue.record("not rotated"); return }
        await fixture.database.drop()
    }

    @Test("A rotation that rolls back never counts as a use")
    func rollbackIsNotAUse() async throws {
        let fixture = try await Fixture.make()
        let store = PostgresRefreshTokenStore(pool: fixture.database.pool)
        let (_, token) = try await Self.family(fixture)
        await #expect(throws: InjectedFailure.self) {
            _ = try await Self.rotate(store, token, beforeCommit: { throw InjectedFailure() })
        }
        guard case .rotated = try await Self.rotate(store, token) else { Issue.record("the rolled-back attempt used the token"); return }
        #expect(try await fixture.count("refresh_tokens") == 2)
        await fixture.database.drop()
    }

    @Test("Within the grace window the same successor is valid again; once it is used, a retry revokes")
    func graceWindow() async throws {
        let fixture = try await Fixture.make()
        let store = PostgresRefreshTokenStore(pool: fixture.database.pool)
        let (family, token) = try await Self.family(fixture)
        guard case .rotated = try await Self.rotate(store, token, grace: 5) else { Issue.record("not rotated"); return }
        guard case .graceRetry = try await Self.rotate(store, token, grace: 5) else { Issue.record("no grace retry"); return }
        #expect(try await fixture.count("refresh_tokens") == 2, "a retry adds no generation")
        guard case .rotated = try await Self.rotate(store, Self.successor(token), grace: 5) else { Issue.record("successor"); return }
        guard case .reuseDetected(family.id, _) = try await Self.rotate(store, token, grace: 5) else { Issue.record("reuse after grace"); return }
        await fixture.database.drop()
    }

    @Test("Idle and absolute expiry end a token; a disabled user's token is refused and stays usable once enabled")
    func expiryAndDisabledUser() async throws {
        let fixture = try await Fixture.make()
        let store = PostgresRefreshTokenStore(pool: fixture.database.pool)
        let (_, token) = try await Self.family(fixture)
        guard case .rotated = try await Self.rotate(store, token, idle: 1) else { Issue.record("not rotated"); return }
        try await Task.sleep(for: .milliseconds(1_500))
        guard case .invalid = try await Self.rotate(store, Self.successor(token)) else { Issue.record("idle expiry"); return }

        let (_, ending) = try await Self.family(fixture, expiresIn: 1)
        try await Task.sleep(for: .milliseconds(1_500))
        guard case .invalid = try await Self.rotate(store, ending) else { Issue.record("absolute expiry"); return }

        let (_, live) = try await Self.family(fixture)
        try await fixture.users.setDisabled(id: fixture.user.id, true)
        guard case .invalid = try await Self.rotate(store, live) else { Issue.record("disabled user"); return }
        try await fixture.users.setDisabled(id: fixture.user.id, false)
        guard case .rotated = try await Self.rotate(store, live) else { Issue.record("enabled again"); return }
        await fixture.database.drop()
    }

    @Test("Thirty concurrent rotations of one token: exactly one rotates, the family ends revoked with one successor")
    func concurrentRotations() async throws {
        let fixture = try await Fixture.make()
        let pool = PostgresPool(configuration: fixture.database.configuration, size: 8)
        let store = PostgresRefreshTokenStore(pool: pool)
        let (family, token) = try await Self.family(fixture)
        let outcomes = try await withThrowingTaskGroup(of: RefreshRotation.self) { group in
            for _ in 0..<30 { group.addTask { try await Self.rotate(store, token) } }
            return try await group.reduce(into: [RefreshRotation]()) { $0.append($1) }
        }
        #expect(outcomes.filter { if case .rotated = $0 { return true } else { return false } }.count == 1)
        #expect(outcomes.contains { if case .reuseDetected(family.id, _) = $0 { return true } else { return false } })
        let rows = try await fixture.database.pool.query(PostgresQuery(unsafeSQL: """
            SELECT array_agg(generation ORDER BY generation)::text AS generations,
                   bool_and(f.revoked_at IS NOT NULL) AS revoked
            FROM refresh_tokens t JOIN refresh_token_families f ON f.id = t.family_id
            """))
        let row = try #require(rows.first)
        #expect(try row.decode("generations", as: String.self) == "{1,2}")
        #expect(try row.decode("revoked", as: Bool.self))
        await pool.close()
        await fixture.database.drop()
    }

    @Test("A replayed code revokes the family its redemption started (RFC 6749 §4.1.2)")
    func codeReplayRevokesFamily() async throws {
        let fixture = try await Fixture.make()
        let store = PostgresRefreshTokenStore(pool: fixture.database.pool)
        let code = PostgresLoginStoreTests().code(fixture, scopes: ["openid", "offline_access"])
        let secret = LoginSession.newSecret()
        try await fixture.store.createCode(code, digest: TokenDigest.of(secret))
        let token = RefreshTokenGrant.newToken()
        let start = RefreshFamilyStart(expiresAt: Date().addingTimeInterval(3_600), tokenDigest: TokenDigest.of(token),
                                       tokenExpiresAt: Date().addingTimeInterval(600))
        _ = try await fixture.store.redeemCode(digest: TokenDigest.of(secret), accessTokenJTI: "code-jti",
                                               accessTokenExpiresAt: Date().addingTimeInterval(600), family: start)
        #expect(try await fixture.store.redeemCode(digest: TokenDigest.of(secret), accessTokenJTI: "code-jti",
                                                   accessTokenExpiresAt: Date().addingTimeInterval(600)).isAlreadyRedeemed)
        guard case .invalid = try await Self.rotate(store, token) else { Issue.record("family survived the replay"); return }
        #expect(try await fixture.store.isAccessTokenRevoked(jti: "code-jti"))
        await fixture.database.drop()
    }

    @Test("Revoking by user, by user and client, and by session revokes exactly those families")
    func revokeFamilies() async throws {
        let fixture = try await Fixture.make()
        let store = PostgresRefreshTokenStore(pool: fixture.database.pool)
        let (_, a) = try await Self.family(fixture)
        let (_, b) = try await Self.family(fixture)
        #expect(try await store.revokeFamilies(sid: "another-session", reason: "test").families == 0)
        #expect(try await store.revokeFamilies(userID: fixture.user.id, clientID: "other-client", reason: "test") == 0)
        #expect(try await store.revokeFamilies(sid: "sid-1", reason: "logout").families == 2)
        #expect(try await store.revokeFamilies(userID: fixture.user.id, reason: "again") == 0, "already revoked")
        for token in [a, b] {
            guard case .invalid = try await Self.rotate(store, token) else { Issue.record("family alive"); return }
        }
        await fixture.database.drop()
    }
}

@Suite(.enabled(if: ProcessInfo.processInfo.environment["PGHOST"] != nil, "needs PostgreSQL (make test provides one)"))
struct PostgresJanitorTests {
    typealias Fixture = PostgresLoginStoreTests.Fixture

    @Test("A sweep deletes only expired rows, in batches, and skips its turn while another instance sweeps")
    func sweep() async throws {
        let fixture = try await Fixture.make()
        let pool = fixture.database.pool
        let store = PostgresRefreshTokenStore(pool: pool)
        let (live, _) = try await PostgresRefreshTokenStoreTests.family(fixture)
        let (old, _) = try await PostgresRefreshTokenStoreTests.family(fixture)
        try await pool.query("UPDATE refresh_token_families SET expires_at = now() - interval '1 second' WHERE id = \(old.id)")
        try await store.revoke(familyID: live.id, reason: "test")
        try await pool.query("UPDATE refresh_token_families SET revoked_at = now() - interval '2 days' WHERE id = \(live.id)")
        for index in 0..<5 {
            try await fixture.store.revokeAccessToken(jti: "expired-\(index)", expiresAt: Date().addingTimeInterval(-1), reason: "test")
        }
        try await fixture.store.revokeAccessToken(jti: "live", expiresAt: Date().addingTimeInterval(600), reason: "test")

        // Another instance holds the lock: this one skips its turn and deletes nothing.
        let holder = try PostgresConnection.connect(fixture.database.configuration)
        try holder.query(PostgresQuery(unsafeSQL: "SELECT pg_advisory_lock(\(PostgresJanitor.lockKey))"))
        #expect(try await PostgresJanitor(pool: pool, batchSize: 2).sweep() == nil)
        // A deployment in another schema of the same database holds its own lock: no effect here.
        try holder.query(PostgresQuery(unsafeSQL: "SELECT pg_advisory_unlock(\(PostgresJanitor.lockKey))"))
        let elsewhere = try PostgresConnection.connect(.environment())
        try elsewhere.query(PostgresQuery(unsafeSQL: "SELECT pg_advisory_lock(\(PostgresJanitor.lockKey))"))
        defer { withExtendedLifetime(elsewhere) {} }

        let deleted = try #require(try await PostgresJanitor(pool: pool, batchSize: 2).sweep())
        #expect(deleted["refresh_token_families"] == 2, "the expired one and the one revoked two days ago")
        #expect(deleted["revoked_access_tokens"] ?? 0 >= 5)
        #expect(try await fixture.store.isAccessTokenRevoked(jti: "live"), "an unexpired revocation stays")
        #expect(try await fixture.count("refresh_tokens") == 0, "tokens went with their families")
        #expect(try await PostgresJanitor(pool: pool).sweep() == [:], "nothing left to delete")
        await fixture.database.drop()
    }
}
