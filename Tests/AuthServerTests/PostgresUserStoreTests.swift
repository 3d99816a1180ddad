import Foundation
import OAuth
import Postgres
import PostgresStorage
import Testing

@Suite(.enabled(if: ProcessInfo.processInfo.environment["PGHOST"] != nil, "needs PostgreSQL (make test provides one)"))
struct PostgresUserStoreTests {
    static func user(_ username: String = "Alice") -> User {
        let now = Date()
        return User(username: username, email: "alice@example.com", isEmailVerified: true, name: "Alice Liddell",
                    createdAt: now, updatedAt: now, passwordChangedAt: now)
    }

    @Test("A user round-trips through PostgreSQL, found by id and by username whatever its case")
    func createAndRead() async throws {
        let database = try await TestDatabase.make()
        let store = PostgresUserStore(pool: database.pool)
        let user = Self.user()
        try await store.create(user, passwordHash: "hash-1")
        let stored = try #require(try await store.user(id: user.id))
        var expected = user
        expected.createdAt = stored.createdAt
        expected.updatedAt = stored.updatedAt
        expected.passwordChangedAt = stored.passwordChangedAt
        #expect(stored == expected)
        #expect(try await store.user(username: "Alice") == stored)
        #expect(try await store.user(username: "aLICE") == stored)
        #expect(try await store.user(username: "alice2") == nil)
        let credentials = try #require(try await store.credentials(username: "alice"))
        #expect(credentials.user == stored)
        #expect(credentials.passwordHash == "hash-1")
        #expect(try await store.credentials(username: "nobody") == nil)

        var bare = Self.user("bob")
        bare.email = nil
        bare.isEmailVerified = false
        bare.name = nil
        try await store.create(bare, passwordHash: "hash-2")
        #expect(try await store.user(username: "bob")?.email == nil)
        #expect(try await store.user(username: "bob")?.name == nil)
        #expect(try await store.list().map(\.username) == ["Alice", "bob"])
        await database.drop()
    }

    @Test("A second user with the same username, also differing only in case, is refused", arguments: ["Alice", "alice", "ALICE"])
    func duplicate(username: String) async throws {
        let database = try await TestDatabase.make()
        let store = PostgresUserStore(pool: database.pool)
        try await store.create(Self.user(), passwordHash: "hash-1")
        await #expect(throws: UserStoreError.alreadyExists(username)) { try await store.create(Self.user(username), passwordHash: "hash-2") }
        #expect(try await store.list().count == 1)
        #expect(try await store.credentials(username: "alice")?.passwordHash == "hash-1")
        // A rename onto another user's name, whatever its case, is refused as well.
        let bob = Self.user("bob")
        try await store.create(bob, passwordHash: "hash-3")
        var renamed = bob
        renamed.username = username
        await #expect(throws: UserStoreError.alreadyExists(username)) { try await store.update(renamed) }
        #expect(try await store.user(id: bob.id)?.username == "bob")
        await database.drop()
    }

    @Test("The database refuses a username the model would refuse")
    func databaseChecksUsername() async throws {
        let database = try await TestDatabase.make()
        let store = PostgresUserStore(pool: database.pool)
        for username in ["", "with space", "ålice", String(repeating: "x", count: 65)] {
            await #expect(throws: PostgresError.self) { try await store.create(Self.user(username), passwordHash: "hash") }
        }
        await database.drop()
    }

    @Test("Setting a password replaces the hash and moves password_changed_at")
    func setPassword() async throws {
        let database = try await TestDatabase.make()
        let store = PostgresUserStore(pool: database.pool)
        let user = Self.user()
        try await store.create(user, passwordHash: "hash-1")
        let before = try #require(try await store.user(id: user.id))
        try await store.setPassword(id: user.id, hash: "hash-2")
        let after = try #require(try await store.credentials(username: "alice"))
        #expect(after.passwordHash == "hash-2")
        #expect(after.user.passwordChangedAt > before.passwordChangedAt)
        #expect(after.user.updatedAt > before.updatedAt)
        #expect(after.user.createdAt == before.createdAt)
        await #expect(throws: UserStoreError.self) { try await store.setPassword(id: UUID(), hash: "hash-3") }
        await database.drop()
    }

    @Test("Update, set-password, disable and delete change the row and notify tessera_users with the user id")
    func changesNotify() async throws {
        let database = try await TestDatabase.make()
        let store = PostgresUserStore(pool: database.pool)
        let notifications = PostgresNotificationHub(configuration: database.configuration)
        var events = notifications.subscribe(PostgresUserStore.channel).makeAsyncIterator()
        notifications.start()
        #expect(await events.next() == .connected)
        let user = Self.user()
        let notified = PostgresListenerEvent.notification(channel: PostgresUserStore.channel, payload: user.subject)
        try await store.create(user, passwordHash: "hash-1")
        #expect(await nextAbout(user.subject, &events) == notified)
        var changed = user
        changed.username = "alice.liddell"
        changed.email = nil
        changed.isEmailVerified = false
        try await store.update(changed)
        #expect(await nextAbout(user.subject, &events) == notified)
        #expect(try await store.user(id: user.id)?.username == "alice.liddell")
        #expect(try await store.user(id: user.id)?.email == nil)
        try await store.setPassword(id: user.id, hash: "hash-2")
        #expect(await nextAbout(user.subject, &events) == notified)
        try await store.setDisabled(id: user.id, true)
        #expect(await nextAbout(user.subject, &events) == notified)
        #expect(try await store.user(id: user.id)?.isDisabled == true)
        #expect(try await store.credentials(username: "Alice.Liddell")?.user.isDisabled == true, "disabled users are still found; the login page refuses them")
        try await store.setDisabled(id: user.id, false)
        #expect(await nextAbout(user.subject, &events) == notified)
        #expect(try await store.user(id: user.id)?.isDisabled == false)
        try await store.delete(id: user.id)
        #expect(await nextAbout(user.subject, &events) == notified)
        #expect(try await store.user(id: user.id) == nil)
        await #expect(throws: UserStoreError.notFound(user.subject)) { try await store.delete(id: user.id) }
        await #expect(throws: UserStoreError.notFound(user.subject)) { try await store.setDisabled(id: user.id, true) }
        await #expect(throws: UserStoreError.notFound(user.subject)) { try await store.update(changed) }
        notifications.stop()
        await database.drop()
    }
}

/// The next event about `subject`: NOTIFY channels are shared by the whole database, so
/// suites running in parallel (each in its own schema) hear each other's notifications.
func nextAbout(_ subject: String, _ events: inout AsyncStream<PostgresListenerEvent>.Iterator) async -> PostgresListenerEvent? {
    while let event = await events.next() {
        if case .notification(_, let payload) = event, payload != subject { continue }
        return event
    }
    return nil
}
