import Foundation
import JOSE
import OAuth
import Postgres
import PostgresStorage
import Synchronization
import Testing
@testable import AuthServer

/// A JWKS URL's answers, set by the test, with the fetches counted.
final class ScriptedJWKSFetcher: JWKSFetching {
    let answer = Mutex<Result<JWKS, JWKSFetchError>>(.failure(JWKSFetchError(description: "unset")))
    let fetches = Mutex(0)

    func fetch(_ uri: String) async throws -> JWKS {
        fetches.withLock { $0 += 1 }
        return try answer.withLock { $0 }.get()
    }
}

@Suite(.enabled(if: ProcessInfo.processInfo.environment["PGHOST"] != nil, "needs PostgreSQL (make test provides one)"))
struct TrustedIssuerServiceTests {
    static func jwks(_ key: SigningKey) -> JWKS { JWKS(keys: [key.publicJWK]) }

    @Test("Registrations round-trip through PostgreSQL, every change notifies tessera_issuers, and bad ones are refused by the database too")
    func store() async throws {
        let database = try await TestDatabase.make()
        let store = PostgresTrustedIssuerStore(pool: database.pool)
        let notifications = PostgresNotificationHub(configuration: database.configuration)
        var events = notifications.subscribe(PostgresTrustedIssuerStore.channel).makeAsyncIterator()
        notifications.start()
        #expect(await events.next() == .connected)
        let key = try SigningKey.generate(.es256)
        let now = Date()
        var registration = TrustedIssuerRegistration(issuer: "https://idp.example", jwks: Self.jwks(key), audiences: ["edge"], subjectPrefix: "corp:",
                                                     createdAt: now, updatedAt: now)
        #expect(registration.problem == nil)
        try await store.create(registration)
        #expect(await nextAbout("https://idp.example", &events) == .notification(channel: PostgresTrustedIssuerStore.channel, payload: "https://idp.example"))
        let stored = try #require(try await store.trustedIssuer("https://idp.example"))
        #expect(stored.jwks == registration.jwks && stored.audiences == ["edge"] && stored.subjectPrefix == "corp:" && stored.jwksURI == nil)
        await #expect(throws: TrustedIssuerStoreError.alreadyExists("https://idp.example")) { try await store.create(registration) }
        registration.jwks = nil
        registration.jwksURI = "https://idp.example/jwks"
        try await store.update(registration)
        #expect(await nextAbout("https://idp.example", &events) != nil)
        #expect(try await store.trustedIssuers().map(\.jwksURI) == ["https://idp.example/jwks"])
        try await store.delete("https://idp.example")
        #expect(await nextAbout("https://idp.example", &events) != nil)
        await #expect(throws: TrustedIssuerStoreError.notFound("https://idp.example")) { try await store.delete("https://idp.example") }
        registration.jwks = Self.jwks(key)
        await #expect(throws: PostgresError.self, "both a JWKS and a URI") { try await store.create(registration) }
        notifications.stop()
        await database.drop()
    }

    @Test("Registration rules: an absolute issuer, exactly one key source, https JWKS URIs (http only on loopback), an audience")
    func problems() throws {
        let key = try SigningKey.generate(.es256)
        let now = Date()
        func registration(_ issuer: String = "https://idp.example", jwks: JWKS? = nil, uri: String? = nil, audiences: [String] = ["a"],
                          prefix: String = "") -> TrustedIssuerRegistration {
            TrustedIssuerRegistration(issuer: issuer, jwks: jwks, jwksURI: uri, audiences: audiences, subjectPrefix: prefix, createdAt: now, updatedAt: now)
        }
        #expect(registration(jwks: Self.jwks(key)).problem == nil)
        #expect(registration(uri: "https://idp.example/jwks").problem == nil)
        #expect(registration(uri: "http://127.0.0.1:8080/jwks").problem == nil)
        for bad in [registration("idp", jwks: Self.jwks(key)), registration(), registration(jwks: Self.jwks(key), uri: "https://x.example/j"),
                    registration(uri: "http://idp.example/jwks"), registration(uri: "https://user:pw@idp.example/jwks"),
                    registration(jwks: Self.jwks(key), audiences: []), registration(jwks: JWKS(keys: [])),
                    registration(jwks: Self.jwks(key), prefix: "a b")] {
            #expect(bad.problem != nil, "\(bad)")
        }
    }

    @Test("Keys at a JWKS URI are fetched at load, fetched again for an unknown kid at most once per interval, and kept when a fetch fails")
    func fetching() async throws {
        let database = try await TestDatabase.make()
        let store = PostgresTrustedIssuerStore(pool: database.pool)
        let first = try SigningKey.generate(.es256), second = try SigningKey.generate(.es256)
        try await store.create(TrustedIssuerRegistration(issuer: "https://idp.example", jwksURI: "https://idp.example/jwks", audiences: ["edge"],
                                                         createdAt: Date(), updatedAt: Date()))
        let fetcher = ScriptedJWKSFetcher()
        fetcher.answer.withLock { $0 = .success(Self.jwks(first)) }
        let service = TrustedIssuerService(store: store, fetcher: fetcher, feed: nil, logger: Logger(level: .error))
        let found = try #require(try await service.trustedIssuer("https://idp.example", keyID: first.kid))
        #expect(found.keys.map(\.kid) == [first.kid] && fetcher.fetches.withLock { $0 } == 1)
        #expect(try await service.trustedIssuer("https://nobody.example", keyID: nil) == nil)
        // A rotation: the new kid is fetched once; asking again within the interval fetches nothing more.
        fetcher.answer.withLock { $0 = .success(Self.jwks(second)) }
        _ = try await service.trustedIssuer("https://idp.example", keyID: second.kid)
        #expect(fetcher.fetches.withLock { $0 } == 1, "the last fetch was less than the refetch interval ago")
        let eager = TrustedIssuerService(store: store, fetcher: fetcher, feed: nil, logger: Logger(level: .error), refetchInterval: .zero)
        let rotated = try #require(try await eager.trustedIssuer("https://idp.example", keyID: second.kid))
        #expect(rotated.keys.map(\.kid) == [second.kid] && fetcher.fetches.withLock { $0 } == 2, "fetched at load, and the kid is known")
        _ = try await eager.trustedIssuer("https://idp.example", keyID: "unknown")
        #expect(fetcher.fetches.withLock { $0 } == 3, "an unknown kid fetches the keys again")
        fetcher.answer.withLock { $0 = .failure(JWKSFetchError(description: "down")) }
        try await eager.reload()
        let kept = try #require(try await eager.trustedIssuer("https://idp.example", keyID: "unknown again"))
        #expect(kept.keys.map(\.kid) == [second.kid], "the keys fetched before stay while fetching fails")
        await database.drop()
    }
}
