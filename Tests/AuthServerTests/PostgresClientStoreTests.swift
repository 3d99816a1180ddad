import Foundation
import JOSE
import OAuth
import Postgres
import PostgresStorage
import Testing

@Suite(.enabled(if: ProcessInfo.processInfo.environment["PGHOST"] != nil, "needs PostgreSQL (make test provides one)"))
struct PostgresClientStoreTests {
    static func client(_ id: String = "billing") -> Client {
        Client(id: id, name: "Billing", type: .confidential, authMethod: .clientSecretBasic, grantTypes: [.clientCredentials, .authorizationCode],
               redirectURIs: ["https://app.example/cb"], allowedScopes: Scope(["invoices:read", "invoices:write"]),
               defaultScopes: Scope(["invoices:read"]), audiences: ["https://api.example.com"], accessTokenFormat: .opaque,
               accessTokenLifetime: 300, signingAlgorithm: .rs256, skipsConsent: true, introspectableAudiences: ["https://api.example.com"],
               createdAt: Date(), updatedAt: Date())
    }

    @Test("A registration round-trips through PostgreSQL; a second one with the same id is refused")
    func createAndRead() async throws {
        let database = try await TestDatabase.make()
        let store = PostgresClientStore(pool: database.pool)
        let client = Self.client()
        try await store.create(client, secretHash: "hash-1")
        let stored = try #require(try await store.client(id: client.id))
        var expected = client
        expected.createdAt = stored.createdAt
        expected.updatedAt = stored.updatedAt
        #expect(stored == expected)
        await #expect(throws: ClientStoreError.alreadyExists(client.id)) { try await store.create(client, secretHash: "hash-2") }
        let secrets = try #require(try await store.clientWithSecrets(id: client.id)).secrets
        #expect(secrets.map(\.hash) == ["hash-1"])
        #expect(try await store.list().map(\.id) == [client.id])
        await database.drop()
    }

    @Test("Rotation keeps the old secret for its grace period only, and a zero grace ends it at once")
    func rotation() async throws {
        let database = try await TestDatabase.make()
        let store = PostgresClientStore(pool: database.pool)
        try await store.create(Self.client(), secretHash: "hash-1")
        try await store.rotateSecret(id: "billing", newHash: "hash-2", oldSecretValidFor: 3_600)
        var secrets = try #require(try await store.clientWithSecrets(id: "billing")).secrets
        #expect(secrets.map(\.hash) == ["hash-2", "hash-1"])
        #expect(secrets[0].expiresAt == nil)
        let graceEnd = try #require(secrets[1].expiresAt)
        #expect(abs(graceEnd.timeIntervalSinceNow - 3_600) < 60)
        try await store.rotateSecret(id: "billing", newHash: "hash-3", oldSecretValidFor: 0)
        secrets = try #require(try await store.clientWithSecrets(id: "billing")).secrets
        // hash-2 ended now; hash-1 keeps its earlier grace.
        #expect(secrets.map(\.hash) == ["hash-3", "hash-1"])
        await #expect(throws: ClientStoreError.notFound("nobody")) {
            try await store.rotateSecret(id: "nobody", newHash: "x", oldSecretValidFor: 0)
        }
        await database.drop()
    }

    @Test("Update, disable and delete change the row and notify tessera_clients with the client id")
    func changesNotify() async throws {
        let database = try await TestDatabase.make()
        let store = PostgresClientStore(pool: database.pool)
        let notifications = PostgresNotificationHub(configuration: database.configuration)
        var events = notifications.subscribe(PostgresClientStore.channel).makeAsyncIterator()
        notifications.start()
        #expect(await events.next() == .connected)
        try await store.create(Self.client(), secretHash: nil)
        #expect(await nextAbout("billing", &events) == .notification(channel: PostgresClientStore.channel, payload: "billing"))
        var changed = Self.client()
        changed.name = "Billing v2"
        changed.audiences = ["https://api.example.com", "https://b.example"]
        try await store.update(changed)
        #expect(await nextAbout("billing", &events) == .notification(channel: PostgresClientStore.channel, payload: "billing"))
        #expect(try await store.client(id: "billing")?.audiences == ["https://api.example.com", "https://b.example"])
        try await store.setDisabled(id: "billing", true)
        #expect(await nextAbout("billing", &events) == .notification(channel: PostgresClientStore.channel, payload: "billing"))
        #expect(try await store.client(id: "billing")?.isDisabled == true)
        try await store.delete(id: "billing")
        #expect(await nextAbout("billing", &events) == .notification(channel: PostgresClientStore.channel, payload: "billing"))
        #expect(try await store.client(id: "billing") == nil)
        await #expect(throws: ClientStoreError.notFound("billing")) { try await store.delete(id: "billing") }
        notifications.stop()
        await database.drop()
    }

    @Test("An assertion id is accepted once until it expires (RFC 7523 §3 jti)")
    func assertionReplay() async throws {
        let database = try await TestDatabase.make()
        let store = PostgresClientStore(pool: database.pool)
        try await store.create(Self.client(), secretHash: nil)
        try await store.create(Self.client("other"), secretHash: nil)
        let later = Date().addingTimeInterval(120)
        #expect(try await store.recordAssertionID("jti-1", clientID: "billing", expiresAt: later))
        #expect(try await store.recordAssertionID("jti-1", clientID: "billing", expiresAt: later) == false)
        #expect(try await store.recordAssertionID("jti-1", clientID: "other", expiresAt: later), "per client")
        // An expired record no longer blocks (the assertion itself would be refused as expired).
        #expect(try await store.recordAssertionID("jti-2", clientID: "billing", expiresAt: Date().addingTimeInterval(-1)))
        #expect(try await store.recordAssertionID("jti-2", clientID: "billing", expiresAt: later))
        #expect(try await store.purgeExpired() == 0)
        await database.drop()
    }
}
