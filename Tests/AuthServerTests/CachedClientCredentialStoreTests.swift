import Foundation
import OAuth
import Postgres
import PostgresStorage
import Testing
@testable import AuthServer

@Suite(.enabled(if: ProcessInfo.processInfo.environment["PGHOST"] != nil, "needs PostgreSQL (make test provides one)"))
struct CachedClientCredentialStoreTests {
    /// Renames the client behind the store's back (no NOTIFY), to see whether a read hits the cache.
    func renameSilently(_ database: TestDatabase, to name: String) async throws {
        try await database.pool.query("UPDATE clients SET name = \(name) WHERE id = 'billing'")
    }

    @Test("Nothing is cached while change notifications are not being received")
    func noCachingWithoutNotifications() async throws {
        let database = try await TestDatabase.make()
        let store = PostgresClientStore(pool: database.pool)
        try await store.create(PostgresClientStoreTests.client(), secretHash: "hash")
        let cached = CachedClientCredentialStore(store: store)
        #expect(try await cached.credentials(clientID: "billing")?.client.name == "Billing")
        try await renameSilently(database, to: "Renamed")
        #expect(try await cached.credentials(clientID: "billing")?.client.name == "Renamed")
        await database.drop()
    }

    @Test("While notifications flow a registration is cached until its client is invalidated")
    func cachingUntilInvalidated() async throws {
        let database = try await TestDatabase.make()
        let store = PostgresClientStore(pool: database.pool)
        try await store.create(PostgresClientStoreTests.client(), secretHash: "hash")
        let cached = CachedClientCredentialStore(store: store)
        cached.setCaching(true)
        #expect(try await cached.credentials(clientID: "billing")?.secrets.map(\.hash) == ["hash"])
        try await renameSilently(database, to: "Renamed")
        #expect(try await cached.credentials(clientID: "billing")?.client.name == "Billing", "served from the cache")
        cached.invalidate(clientID: "billing")
        #expect(try await cached.credentials(clientID: "billing")?.client.name == "Renamed")
        // Losing the notification channel drops everything and stops caching.
        cached.setCaching(false)
        try await renameSilently(database, to: "Again")
        #expect(try await cached.credentials(clientID: "billing")?.client.name == "Again")
        await database.drop()
    }

    @Test("A disable on one instance reaches another instance's cache through NOTIFY")
    func notificationInvalidates() async throws {
        let database = try await TestDatabase.make()
        let store = PostgresClientStore(pool: database.pool)
        try await store.create(PostgresClientStoreTests.client(), secretHash: "hash")
        let configuration = try Configuration.load(environment: ["TESSERA_LISTEN": "127.0.0.1:0"])
        let notifications = PostgresNotificationHub(configuration: database.configuration)
        let service = ClientService(pool: database.pool, issuer: configuration.issuer,
                                    logger: Logger(level: .error), notifications: notifications)
        service.start()
        notifications.start()
        // Wait until the listener is connected and caching: then a silent rename is not seen.
        var isCaching = false
        for attempt in 0..<100 where !isCaching {
            _ = try await service.registrations.credentials(clientID: "billing")
            try await renameSilently(database, to: "Probe \(attempt)")
            isCaching = try await service.registrations.credentials(clientID: "billing")?.client.name != "Probe \(attempt)"
            if !isCaching { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(isCaching, "the listener connected and registrations are cached")
        try await PostgresClientStore(pool: database.pool).setDisabled(id: "billing", true)
        var disabled = false
        for _ in 0..<100 where !disabled {
            disabled = try await service.registrations.credentials(clientID: "billing")?.client.isDisabled == true
            if !disabled { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(disabled, "the NOTIFY dropped the cached registration")
        notifications.stop()
        await service.stop()
        await database.drop()
    }
}
