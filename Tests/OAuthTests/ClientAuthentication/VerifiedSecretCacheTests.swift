import Testing
import TestSupport
@testable import OAuth

@Suite struct VerifiedSecretCacheTests {
    let clock = TestClock()
    let secret = Array("correct horse".utf8)

    func makeCache(lifetime: Duration = .seconds(300), capacity: Int = 10_000) -> VerifiedSecretCache {
        let clock = self.clock
        return VerifiedSecretCache(lifetime: lifetime, capacity: capacity, clock: { clock.instant })
    }

    @Test("A remembered secret matches only for its client, its stored hash, and while the lifetime lasts")
    func matching() {
        let cache = makeCache()
        cache.insert(clientID: "a", secret: secret, storedHash: "$h1", generation: cache.generation)
        #expect(cache.contains(clientID: "a", secret: secret, usableHashes: ["$h1", "$h2"]))
        #expect(!cache.contains(clientID: "a", secret: Array("correct horsE".utf8), usableHashes: ["$h1"]))
        #expect(!cache.contains(clientID: "b", secret: secret, usableHashes: ["$h1"]))
        // The stored secret it matched was removed or expired: no longer accepted.
        #expect(!cache.contains(clientID: "a", secret: secret, usableHashes: ["$h2"]))
        #expect(!cache.contains(clientID: "a", secret: secret, usableHashes: []))
        clock.advance(by: .seconds(300))
        #expect(!cache.contains(clientID: "a", secret: secret, usableHashes: ["$h1"]))
    }

    @Test("Invalidation forgets a client, or every client")
    func invalidation() {
        let cache = makeCache()
        cache.insert(clientID: "a", secret: secret, storedHash: "$h", generation: cache.generation)
        cache.insert(clientID: "b", secret: secret, storedHash: "$h", generation: cache.generation)
        cache.invalidate(clientID: "a")
        #expect(!cache.contains(clientID: "a", secret: secret, usableHashes: ["$h"]))
        #expect(cache.contains(clientID: "b", secret: secret, usableHashes: ["$h"]))
        cache.invalidateAll()
        #expect(!cache.contains(clientID: "b", secret: secret, usableHashes: ["$h"]))
        #expect(cache.count == 0)
    }

    @Test("A verification that raced an invalidation is not remembered")
    func raceWithInvalidation() {
        let cache = makeCache()
        let generation = cache.generation
        cache.invalidate(clientID: "a")
        cache.insert(clientID: "a", secret: secret, storedHash: "$h", generation: generation)
        #expect(!cache.contains(clientID: "a", secret: secret, usableHashes: ["$h"]))
    }

    @Test("Capacity is bounded: the least recently verified client is evicted")
    func capacity() {
        let cache = makeCache(capacity: 2)
        for id in ["a", "b", "c"] {
            cache.insert(clientID: id, secret: secret, storedHash: "$h", generation: cache.generation)
            clock.advance(by: .seconds(1))
        }
        #expect(cache.count == 2)
        #expect(!cache.contains(clientID: "a", secret: secret, usableHashes: ["$h"]))
        #expect(cache.contains(clientID: "b", secret: secret, usableHashes: ["$h"]))
        #expect(cache.contains(clientID: "c", secret: secret, usableHashes: ["$h"]))
    }

    @Test("A client keeps a few secrets at once (old and new during a rotation), the oldest dropped first")
    func severalSecretsPerClient() {
        let cache = makeCache()
        let secrets = (0...VerifiedSecretCache.entriesPerClient).map { Array("secret-\($0)".utf8) }
        for secret in secrets {
            cache.insert(clientID: "a", secret: secret, storedHash: "$h", generation: cache.generation)
        }
        #expect(!cache.contains(clientID: "a", secret: secrets[0], usableHashes: ["$h"]))
        for secret in secrets.dropFirst() {
            #expect(cache.contains(clientID: "a", secret: secret, usableHashes: ["$h"]))
        }
    }
}
