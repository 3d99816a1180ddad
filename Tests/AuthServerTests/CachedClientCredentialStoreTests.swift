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
        let service = ClientService(store: store, issuer: configuration.issuer,
                                    logger: Logger(level: .error), feed: PostgresChangeFeed(hub: notifications))
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

/// PostgreSQL that does not answer in time: the clients table locked by another session, and a
/// pool whose lock timeout is short.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["PGHOST"] != nil, "needs PostgreSQL (make test provides one)"))
struct CachedClientCredentialOutageTests {
    static func withClientsLocked(_ database: TestDatabase, _ body: () async throws -> Void) async throws {
        let holder = try PostgresConnection.connect(database.configuration)
        try holder.executeScript(unsafeSQL: "BEGIN; LOCK TABLE clients IN ACCESS EXCLUSIVE MODE")
        defer { try? holder.executeScript(unsafeSQL: "ROLLBACK") }
        try await body()
    }

    static func impatientStore(_ database: TestDatabase) -> (PostgresClientStore, PostgresPool) {
        var configuration = database.configuration
        configuration.lockTimeout = .milliseconds(200)
        let pool = PostgresPool(configuration: configuration, size: 1)
        return (PostgresClientStore(pool: pool), pool)
    }

    @Test("After notifications come back, a registration cached before they were lost still answers while PostgreSQL cannot")
    func reconnectedKeepsOutageEntries() async throws {
        let database = try await TestDatabase.make()
        try await PostgresClientStore(pool: database.pool).create(PostgresClientStoreTests.client(), secretHash: "hash")
        let (store, pool) = Self.impatientStore(database)
        let cached = CachedClientCredentialStore(store: store, outageGrace: .seconds(60))
        cached.setCaching(true)
        #expect(try await cached.credentials(clientID: "billing")?.client.name == "Billing")
        cached.setCaching(false)
        cached.setCaching(true)
        try await Self.withClientsLocked(database) { () async throws in
            #expect(try await cached.credentials(clientID: "billing")?.client.name == "Billing")
            // A change announced since then drops it: nothing outdated answers.
            cached.invalidate(clientID: "billing")
            await #expect(throws: StorageUnavailable.self) { try await cached.credentials(clientID: "billing") }
        }
        await pool.close()
        await database.drop()
    }

    @Test("While notifications flow, an entry past its lifetime still answers while PostgreSQL cannot, within the outage grace")
    func expiredEntryAnswersDuringOutage() async throws {
        let database = try await TestDatabase.make()
        try await PostgresClientStore(pool: database.pool).create(PostgresClientStoreTests.client(), secretHash: "hash")
        let (store, pool) = Self.impatientStore(database)
        let cached = CachedClientCredentialStore(store: store, outageGrace: .seconds(60), lifetime: .milliseconds(1))
        cached.setCaching(true)
        #expect(try await cached.credentials(clientID: "billing")?.client.name == "Billing")
        try await Task.sleep(for: .milliseconds(20))
        try await Self.withClientsLocked(database) { () async throws in
            #expect(try await cached.credentials(clientID: "billing")?.client.name == "Billing")
        }
        let strict = CachedClientCredentialStore(store: store, outageGrace: .zero, lifetime: .milliseconds(1))
        strict.setCaching(true)
        _ = try await strict.credentials(clientID: "billing")
        try await Task.sleep(for: .milliseconds(20))
        try await Self.withClientsLocked(database) { () async throws in
            await #expect(throws: StorageUnavailable.self) { try await strict.credentials(clientID: "billing") }
        }
        await pool.close()
        await database.drop()
    }
}
