import Foundation
import JOSE
import OAuth
import Postgres
import PostgresStorage
import Testing
@testable import AuthServer

/// A schema of its own, migrated with the project's migrations.
struct TestDatabase {
    let schema: String
    let configuration: PostgresConfiguration
    let pool: PostgresPool

    static var migrationsDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Migrations").path
    }

    static func make() async throws -> TestDatabase {
        let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        let admin = PostgresPool(configuration: .environment(), size: 1)
        try await admin.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"))
        await admin.close()
        var configuration = PostgresConfiguration.environment()
        configuration.searchPath = String(schema)
        let pool = PostgresPool(configuration: configuration, size: 4)
        try await Migrator(directory: migrationsDirectory, checksum: SHA256.hexDigest).migrate(using: pool)
        return TestDatabase(schema: String(schema), configuration: configuration, pool: pool)
    }

    func drop() async {
        await pool.close()
        let admin = PostgresPool(configuration: .environment(), size: 1)
        _ = try? await admin.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"))
        await admin.close()
    }
}

@Suite(.enabled(if: ProcessInfo.processInfo.environment["PGHOST"] != nil, "needs PostgreSQL (make test provides one)"))
struct PostgresSigningKeyStoreTests {
    @Test("Four instances starting at once create exactly one active and one next key per algorithm")
    func concurrentFirstStart() async throws {
        let database = try await TestDatabase.make()
        let kek = try KeyEncryptionKey(bytes: SecureRandom.bytes(32))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let pool = PostgresPool(configuration: database.configuration, size: 1)
                    try await KeyManager(store: PostgresSigningKeyStore(pool: pool), kek: kek).maintain()
                    await pool.close()
                }
            }
            try await group.waitForAll()
        }
        let keys = try await PostgresSigningKeyStore(pool: database.pool).keys()
        #expect(keys.count == 4)
        for algorithm in JWSAlgorithm.allCases {
            #expect(keys.filter { $0.algorithm == algorithm && $0.state == .active }.count == 1)
            #expect(keys.filter { $0.algorithm == algorithm && $0.state == .next }.count == 1)
        }
        await database.drop()
    }

    @Test("Stored keys load back: private keys decrypt and sign, public keys verify")
    func roundTrip() async throws {
        let database = try await TestDatabase.make()
        let manager = KeyManager(store: PostgresSigningKeyStore(pool: database.pool), kek: try KeyEncryptionKey(bytes: SecureRandom.bytes(32)))
        try await manager.maintain()
        let ring = try await manager.loadRing()
        #expect(ring.jwks.keys.count == 4)
        for algorithm in JWSAlgorithm.allCases {
            let key = try #require(ring.signingKey(for: algorithm))
            let token = try JWS.sign(payload: Array("{\"sub\":\"x\"}".utf8), key: key)
            let verified = try JWS.verify(token, keys: ring.publishedKeys)
            #expect(verified.key.kid == key.kid)
        }
        // The private key is stored sealed, never in the clear.
        let rows = try await database.pool.query("SELECT sealed_private_key FROM signing_keys")
        for row in rows {
            let sealed = try row.decode(0, as: [UInt8].self)
            #expect(!String(decoding: sealed, as: UTF8.self).contains("PRIVATE KEY"))
        }
        await database.drop()
    }

    @Test("A rotation is pushed to another instance by NOTIFY")
    func notifyReachesOtherInstance() async throws {
        let database = try await TestDatabase.make()
        let kek = try KeyEncryptionKey(bytes: SecureRandom.bytes(32))
        let a = KeyManager(store: PostgresSigningKeyStore(pool: database.pool), kek: kek)
        try await a.maintain()
        let otherPool = PostgresPool(configuration: database.configuration, size: 2)
        let notifications = PostgresNotificationHub(configuration: database.configuration)
        let b = KeyService(manager: KeyManager(store: PostgresSigningKeyStore(pool: otherPool), kek: kek),
                           logger: Logger(level: .error), feed: PostgresChangeFeed(hub: notifications), maintenanceInterval: .seconds(3600))
        try await b.prepare()
        b.start()
        notifications.start()
        try await Task.sleep(for: .milliseconds(300))  // let the listener connect
        let before = b.current.jwksETag
        try await a.rotate(algorithms: [.es256], force: true)
        let deadline = ContinuousClock.now + .seconds(5)
        while b.current.jwksETag == before && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(b.current.jwksETag != before)
        notifications.stop()
        await b.stop()
        await otherPool.close()
        await database.drop()
    }
}
