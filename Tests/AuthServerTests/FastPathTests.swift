import Foundation
import HTTPServer
import JOSE
import OAuth
import PasswordHashing
import Postgres
import PostgresStorage
import Testing
@testable import AuthServer

/// The hot paths answered on the event-loop thread: the same answers as the asynchronous path,
/// given only when everything needed is in memory.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["PGHOST"] != nil, "needs PostgreSQL"))
struct FastPathTests {
    static let cheap = Argon2Parameters(memoryKiB: 64, iterations: 1, parallelism: 1)

    struct Running {
        let server: TesseraServer
        let database: TestDatabase
        let notifications: PostgresNotificationHub
    }

    static func start() async throws -> Running {
        let database = try await TestDatabase.make()
        var configuration = try Configuration.load(environment: ["TESSERA_LISTEN": "127.0.0.1:0", "TESSERA_ADMIN_LISTEN": "off"])
        configuration.argon2 = cheap
        configuration.rateLimits = .init()
        let notifications = PostgresNotificationHub(configuration: database.configuration)
        let manager = KeyManager(store: PostgresSigningKeyStore(pool: database.pool), kek: try KeyEncryptionKey(bytes: SecureRandom.bytes(32)))
        let keys = KeyService(manager: manager, logger: Logger(level: .error), feed: PostgresChangeFeed(hub: notifications))
        try await keys.prepare()
        let server = TesseraServer(configuration: configuration, pool: database.pool, keys: keys, logger: Logger(level: .error),
                                   audit: AuditLog(sink: { _ in }), notifications: notifications)
        try server.start()
        // Caches are trusted once the change feed is connected.
        for _ in 0..<200 where !server.revocations.isSynchronized { try await Task.sleep(for: .milliseconds(25)) }
        return Running(server: server, database: database, notifications: notifications)
    }

    static func client(_ id: String, secret: String, introspects: Bool = false, store: PostgresClientStore) async throws {
        let now = Date()
        let client = Client(id: id, name: "", type: .confidential, authMethod: .clientSecretBasic, grantTypes: [.clientCredentials],
                            allowedScopes: Scope(["read"]), defaultScopes: Scope(["read"]), audiences: ["https://api.example"],
                            accessTokenFormat: .opaque, introspectableAudiences: introspects ? ["https://api.example"] : [],
                            createdAt: now, updatedAt: now)
        try await store.create(client, secretHash: try Argon2id.hash(password: Array(secret.utf8), parameters: cheap))
    }

    static func post(_ path: String, _ body: String, id: String, secret: String) -> HTTPRequest {
        HTTPRequest(method: .POST, target: path, headers: HTTPHeaders([
            ("Host", "127.0.0.1"), ("Content-Type", "application/x-www-form-urlencoded"),
            ("Authorization", "Basic " + Data(Array("\(id):\(secret)".utf8)).base64EncodedString())]), body: Array(body.utf8))
    }

    @Test("client_credentials and introspection are answered on the loop once the secret is verified, as the asynchronous path answers")
    func answersFromMemory() async throws {
        let running = try await Self.start()
        let store = PostgresClientStore(pool: running.database.pool)
        try await Self.client("svc", secret: "svc-secret", store: store)
        try await Self.client("rs", secret: "rs-secret", introspects: true, store: store)
        let responder = running.server.responder
        let tokenRequest = Self.post("/token", "grant_type=client_credentials", id: "svc", secret: "svc-secret")

        let early = responder.respondImmediately(to: tokenRequest)
        #expect(early == nil, "the first request verifies the secret with Argon2, asynchronously: got \(early.map { "\($0.status) \(String(decoding: $0.body, as: UTF8.self))" } ?? "")")
        // The announcements of the two new clients may still be on their way (each drops what was
        // cached of that client): ask until the registration and the verified secret are held.
        var immediate: HTTPResponse?
        for _ in 0..<50 where immediate == nil {
            #expect(await responder.respond(to: tokenRequest).status == .ok)
            immediate = responder.respondImmediately(to: tokenRequest)
            if immediate == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let fastToken = try #require(immediate, "a verified secret is answered on the loop")
        #expect(fastToken.status == .ok && fastToken.headers["Cache-Control"] == "no-store")
        let body = try #require(try JSONSerialization.jsonObject(with: Data(fastToken.body)) as? [String: Any])
        let token = try #require(body["access_token"] as? String)
        #expect(body["token_type"] as? String == "Bearer" && body["scope"] as? String == "read" && body["refresh_token"] == nil)

        #expect(responder.respondImmediately(to: Self.post("/token", "grant_type=client_credentials", id: "svc", secret: "wrong")) == nil,
                "a secret that was not verified never takes the fast path")
        #expect(responder.respondImmediately(to: Self.post("/token", "grant_type=client_credentials&scope=admin", id: "svc", secret: "svc-secret"))
                == nil, "a request the grant refuses is reported by the asynchronous path")

        let introspection = Self.post("/introspect", "token=\(token)", id: "rs", secret: "rs-secret")
        var fastAnswer: HTTPResponse?
        for _ in 0..<50 where fastAnswer == nil {
            _ = await responder.respond(to: introspection)
            fastAnswer = responder.respondImmediately(to: introspection)
            if fastAnswer == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let fast = try #require(fastAnswer)
        let slow = await responder.respond(to: introspection)
        #expect(fast.status == .ok && fast.body == slow.body, "the same answer on both paths")
        #expect(String(decoding: fast.body, as: UTF8.self).hasPrefix("{\"active\":true"))

        // Revoked: inactive on both paths, at once.
        let revoke = Self.post("/revoke", "token=\(token)", id: "svc", secret: "svc-secret")
        #expect(await responder.respond(to: revoke).status == .ok)
        let afterRevocation = try #require(responder.respondImmediately(to: introspection))
        #expect(afterRevocation.body == Array("{\"active\":false}".utf8))
        #expect(await responder.respond(to: introspection).body == afterRevocation.body)

        await running.server.shutdown()
        await running.database.drop()
    }
}
