import Foundation
import JOSE
import Testing
@testable import OAuth

/// An in-memory ``SigningKeyStore`` with the same all-or-nothing update semantics.
final class InMemorySigningKeyStore: SigningKeyStore, @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [SigningKeyRecord] = []

    func keys() async throws -> [SigningKeyRecord] { lock.withLock { stored } }

    func update(_ decide: @escaping @Sendable ([SigningKeyRecord]) throws -> [SigningKeyChange]) async throws -> Bool {
        try lock.withLock {
            var keys = stored
            let changes = try decide(keys)
            for change in changes {
                switch change {
                case .insert(let key): keys.append(key)
                case .activate(let kid, let at):
                    if let i = keys.firstIndex(where: { $0.kid == kid }) { keys[i].state = .active; keys[i].activatedAt = at }
                case .retire(let kid, let at, let until):
                    if let i = keys.firstIndex(where: { $0.kid == kid }) { keys[i].state = .retired; keys[i].retiredAt = at; keys[i].unpublishAfter = until }
                case .delete(let kid): keys.removeAll { $0.kid == kid }
                }
            }
            // The same invariant the database's unique indexes enforce.
            for algorithm in JWSAlgorithm.allCases {
                for state in [SigningKeyState.active, .next] where keys.filter({ $0.algorithm == algorithm && $0.state == state }).count > 1 {
                    throw StoreError.duplicate
                }
            }
            stored = keys
            return !changes.isEmpty
        }
    }

    enum StoreError: Error { case duplicate }
}

/// A clock the test moves by hand.
final class FixedClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    init(_ start: Date) { current = start }
    var now: Date { lock.withLock { current } }
    func advance(_ seconds: TimeInterval) { lock.withLock { current = current.addingTimeInterval(seconds) } }
}

@Suite struct KeyLifecycleTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let policy = KeyLifecyclePolicy(rotationPeriod: 86_400, jwksMaxAge: 600, maxTokenLifetime: 3_600, clockSkew: 300)

    func manager(_ store: InMemorySigningKeyStore, _ clock: FixedClock) throws -> KeyManager {
        KeyManager(store: store, kek: try KeyEncryptionKey(bytes: SecureRandom.bytes(32)), policy: policy, now: { clock.now })
    }

    @Test("First start creates an active and a next key for RS256 and ES256")
    func firstStart() async throws {
        let store = InMemorySigningKeyStore()
        let clock = FixedClock(start)
        let keyManager = try manager(store, clock)
        #expect(try await keyManager.maintain())
        let keys = try await store.keys()
        for algorithm in JWSAlgorithm.allCases {
            #expect(keys.filter { $0.algorithm == algorithm && $0.state == .active }.count == 1)
            #expect(keys.filter { $0.algorithm == algorithm && $0.state == .next }.count == 1)
        }
        #expect(try await keyManager.maintain() == false)
    }

    @Test("No rotation before the period; rotation once it is due")
    func rotatesOnSchedule() async throws {
        let store = InMemorySigningKeyStore()
        let clock = FixedClock(start)
        let keys = try manager(store, clock)
        try await keys.maintain()
        let before = try await store.keys().filter { $0.state == .active }.map(\.kid).sorted()
        clock.advance(86_399)
        #expect(try await keys.maintain() == false)
        clock.advance(1)
        #expect(try await keys.maintain())
        let after = try await store.keys()
        let next = after.filter { $0.state == .active }.map(\.kid).sorted()
        #expect(Set(next).isDisjoint(with: before))
        #expect(Set(after.filter { $0.state == .retired }.map(\.kid)) == Set(before))
        for key in after where key.state == .retired {
            #expect(key.unpublishAfter == clock.now.addingTimeInterval(3_600 + 600 + 300))
        }
    }

    @Test("A next key signs only after it was published longer than the JWKS max-age")
    func waitsForPublishAhead() {
        let fresh = SigningKeyRecord(kid: "n", algorithm: .es256, state: .next, publicJWK: JWK(kty: "EC"), sealedPrivateKey: [], kekID: "k",
                                     createdAt: start.addingTimeInterval(-policy.jwksMaxAge))
        let active = SigningKeyRecord(kid: "a", algorithm: .es256, state: .active, publicJWK: JWK(kty: "EC"), sealedPrivateKey: [], kekID: "k",
                                      createdAt: start.addingTimeInterval(-200_000), activatedAt: start.addingTimeInterval(-200_000))
        let actions = KeyLifecycle.plan(keys: [active, fresh], now: start, policy: policy)
        #expect(!actions.contains { if case .rotate = $0 { true } else { false } })
        let later = KeyLifecycle.plan(keys: [active, fresh], now: start.addingTimeInterval(policy.publishAhead), policy: policy)
        #expect(later.contains(.rotate(retiring: "a", activating: "n")))
    }

    @Test("Retired keys are deleted only after their publication period")
    func deletesExpiredRetired() {
        let retired = SigningKeyRecord(kid: "r", algorithm: .rs256, state: .retired, publicJWK: JWK(kty: "RSA"), sealedPrivateKey: [], kekID: "k",
                                       createdAt: start, retiredAt: start, unpublishAfter: start.addingTimeInterval(100))
        #expect(!KeyLifecycle.plan(keys: [retired], now: start.addingTimeInterval(99), policy: policy).contains(.delete(kid: "r")))
        #expect(KeyLifecycle.plan(keys: [retired], now: start.addingTimeInterval(100), policy: policy).contains(.delete(kid: "r")))
    }

    @Test("Over 12 rotations, a token is verifiable with any JWKS cached while it is valid")
    func neverUnverifiable() async throws {
        let store = InMemorySigningKeyStore()
        let clock = FixedClock(start)
        let keys = try manager(store, clock)
        let step: TimeInterval = 1_800
        var published: [(at: Date, kids: Set<String>)] = []  // every JWKS an RP could have fetched
        var signed: [(at: Date, kid: String)] = []
        for _ in 0..<Int(12 * 86_400 / step) {
            try await keys.maintain()
            let ring = try await keys.loadRing()
            published.append((clock.now, Set(ring.jwks.keys.compactMap(\.kid))))
            if let key = ring.signingKey(for: .es256) { signed.append((clock.now, key.kid)) }
            clock.advance(step)
        }
        #expect(Set(signed.map(\.kid)).count >= 12)
        for token in signed {
            // Any JWKS fetched up to max-age before signing, until the token expires (+ skew), must hold the kid.
            let from = token.at.addingTimeInterval(-policy.jwksMaxAge)
            let until = token.at.addingTimeInterval(policy.maxTokenLifetime + policy.clockSkew)
            for fetch in published where fetch.at >= from && fetch.at <= until {
                #expect(fetch.kids.contains(token.kid), "token signed at \(token.at) by \(token.kid) missing from JWKS fetched at \(fetch.at)")
            }
        }
    }

    @Test("Manual rotation is refused while the next key is too fresh, unless forced")
    func manualRotation() async throws {
        let store = InMemorySigningKeyStore()
        let clock = FixedClock(start)
        let keys = try manager(store, clock)
        try await keys.maintain()
        await #expect(throws: KeyLifecycleError.self) { try await keys.rotate(algorithms: [.es256]) }
        clock.advance(policy.publishAhead)
        let activated = try await keys.rotate(algorithms: [.es256])
        #expect(activated.count == 1)
        #expect(try await keys.rotate(algorithms: [.rs256], force: true).count == 1)
    }

    @Test("Emergency retirement stops signing at once; --now also unpublishes")
    func emergencyRetire() async throws {
        let store = InMemorySigningKeyStore()
        let clock = FixedClock(start)
        let keys = try manager(store, clock)
        try await keys.maintain()
        let ring = try await keys.loadRing()
        let compromised = try #require(ring.signingKey(for: .rs256)).kid
        try await keys.retire(kid: compromised, unpublishNow: false)
        var after = try await keys.loadRing()
        #expect(after.signingKey(for: .rs256)?.kid != compromised)
        #expect(after.signingKey(for: .rs256) != nil)
        #expect(after.jwks.keys.contains { $0.kid == compromised })
        try await keys.retire(kid: compromised, unpublishNow: true)
        after = try await keys.loadRing()
        #expect(!after.jwks.keys.contains { $0.kid == compromised })
        await #expect(throws: KeyLifecycleError.unknownKey("nope")) { try await keys.retire(kid: "nope", unpublishNow: true) }
    }

    @Test("A wrong key-encryption key is an error, never a silent new key")
    func wrongKEK() async throws {
        let store = InMemorySigningKeyStore()
        let clock = FixedClock(start)
        try await manager(store, clock).maintain()
        let count = try await store.keys().count
        let other = try manager(store, clock)
        await #expect(throws: KeyEncryptionKeyError.self) { try await other.maintain() }
        await #expect(throws: KeyEncryptionKeyError.self) { try await other.loadRing() }
        #expect(try await store.keys().count == count)
    }

    @Test("The policy refuses a publish-ahead period not longer than the JWKS max-age")
    func policyValidation() {
        #expect(KeyLifecyclePolicy().problem == nil)
        #expect(KeyLifecyclePolicy(jwksMaxAge: 600, publishAhead: 600).problem != nil)
        #expect(KeyLifecyclePolicy(rotationPeriod: 60, jwksMaxAge: 600).problem != nil)
    }
}
