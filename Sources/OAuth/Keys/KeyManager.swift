import Foundation
import JOSE

/// Runs the signing-key lifecycle against a ``SigningKeyStore``: creation, automatic
/// rotation, emergency retirement, and loading the keys an instance signs with.
public struct KeyManager: Sendable {
    public let store: any SigningKeyStore
    public let kek: KeyEncryptionKey
    public let policy: KeyLifecyclePolicy
    public let now: @Sendable () -> Date
    /// Modulus size of generated RSA keys (2048 or 3072).
    public let rsaBits: Int

    public init(store: any SigningKeyStore, kek: KeyEncryptionKey, policy: KeyLifecyclePolicy = KeyLifecyclePolicy(),
                rsaBits: Int = 2048, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.kek = kek
        self.policy = policy
        self.rsaBits = rsaBits
        self.now = now
    }

    /// Applies whatever the lifecycle calls for now (first keys, scheduled rotation,
    /// removal of expired retired keys). Safe to call from every instance at once.
    @discardableResult
    public func maintain() async throws -> Bool {
        let manager = self
        return try await store.update { keys in
            try manager.checkKEK(keys)
            let now = manager.now()
            return try KeyLifecycle.plan(keys: keys, now: now, policy: manager.policy).flatMap { try manager.changes(for: $0, at: now) }
        }
    }

    /// Promotes the `next` key of each chosen algorithm and creates a new `next`.
    /// Refused while the `next` key has been published for less than the publish-ahead
    /// period (a cached JWKS may not have it yet) unless `force` is set.
    @discardableResult
    public func rotate(algorithms: [JWSAlgorithm] = JWSAlgorithm.allCases, force: Bool = false) async throws -> [String] {
        let manager = self
        let activated = ActivatedKeys()
        try await store.update { keys in
            try manager.checkKEK(keys)
            let now = manager.now()
            var changes: [SigningKeyChange] = []
            var promoted: [String] = []
            for algorithm in algorithms {
                let active = keys.first { $0.algorithm == algorithm && $0.state == .active }
                guard let next = keys.first(where: { $0.algorithm == algorithm && $0.state == .next }) else {
                    changes += try manager.changes(for: .create(algorithm, .next), at: now)
                    continue
                }
                let published = now.timeIntervalSince(next.createdAt)
                if !force && published < manager.policy.publishAhead {
                    throw KeyLifecycleError.nextKeyTooFresh(kid: next.kid, publishedSeconds: Int(published), requiredSeconds: Int(manager.policy.publishAhead))
                }
                changes += try manager.changes(for: .rotate(retiring: active?.kid, activating: next.kid), at: now)
                changes += try manager.changes(for: .create(algorithm, .next), at: now)
                promoted.append(next.kid)
            }
            activated.replace(with: promoted)
            return changes
        }
        return activated.kids
    }

    /// Emergency retirement: the key stops signing at once (its algorithm's `next` key
    /// takes over). With `unpublishNow` it also leaves the JWKS at once, so tokens it
    /// signed stop verifying.
    public func retire(kid: String, unpublishNow: Bool) async throws {
        let manager = self
        try await store.update { keys in
            try manager.checkKEK(keys)
            guard let key = keys.first(where: { $0.kid == kid }) else { throw KeyLifecycleError.unknownKey(kid) }
            let now = manager.now()
            if key.state == .retired {
                return unpublishNow ? [.delete(kid: kid)] : []
            }
            var changes: [SigningKeyChange] = unpublishNow
                ? [.delete(kid: kid)]
                : [.retire(kid: kid, at: now, unpublishAfter: now.addingTimeInterval(manager.policy.retiredPublicationPeriod))]
            // Restore one active and one next key for the algorithm straight away.
            if key.state == .active {
                if let next = keys.first(where: { $0.algorithm == key.algorithm && $0.state == .next }) {
                    changes.append(.activate(kid: next.kid, at: now))
                } else {
                    changes += try manager.changes(for: .create(key.algorithm, .active), at: now)
                }
            }
            changes += try manager.changes(for: .create(key.algorithm, .next), at: now)
            return changes
        }
    }

    /// Reads the stored keys and builds the ring this instance signs and publishes with.
    public func loadRing() async throws -> KeyRing {
        let keys = try await store.keys()
        try checkKEK(keys)
        var signing: [JWSAlgorithm: SigningKey] = [:]
        var published: [VerificationKey] = []
        var jwks: [JWK] = []
        var info: [(kid: String, algorithm: JWSAlgorithm, state: SigningKeyState, createdAt: Date)] = []
        let now = now()
        let order: [SigningKeyState: Int] = [.active: 0, .next: 1, .retired: 2]
        for key in keys.sorted(by: { (order[$0.state] ?? 3, $0.createdAt) < (order[$1.state] ?? 3, $1.createdAt) }) {
            if key.state == .retired, let until = key.unpublishAfter, until <= now { continue }
            if key.state == .active {
                let der = try kek.open(key.sealedPrivateKey, kid: key.kid)
                let signingKey = try SigningKey(pkcs8DER: der, algorithm: key.algorithm)
                guard signingKey.kid == key.kid else { throw KeyLifecycleError.corrupt(kid: key.kid) }
                signing[key.algorithm] = signingKey
            }
            published.append(try VerificationKey(jwk: key.publicJWK))
            jwks.append(key.publicJWK)
            info.append((key.kid, key.algorithm, key.state, key.createdAt))
        }
        return KeyRing(signingKeys: signing, publishedKeys: published, jwks: JWKS(keys: jwks), published: info)
    }

    /// A key sealed under another key-encryption key means the wrong file was given:
    /// say so plainly rather than create keys nobody else can read.
    func checkKEK(_ keys: [SigningKeyRecord]) throws {
        if let foreign = keys.first(where: { $0.kekID != kek.id }) {
            throw KeyEncryptionKeyError.wrongKey(
                "the stored signing keys were sealed with another key-encryption key (id \(foreign.kekID), this one is \(kek.id)); check TESSERA_KEYS_DIR / TESSERA_KEK_FILE")
        }
    }

    func changes(for action: KeyLifecycleAction, at now: Date) throws -> [SigningKeyChange] {
        switch action {
        case .create(let algorithm, let state):
            let key = try SigningKey.generate(algorithm, rsaBits: rsaBits)
            let record = SigningKeyRecord(
                kid: key.kid, algorithm: algorithm, state: state, publicJWK: key.publicJWK,
                sealedPrivateKey: try kek.seal(try key.pkcs8DER(), kid: key.kid), kekID: kek.id,
                createdAt: now, activatedAt: state == .active ? now : nil)
            return [.insert(record)]
        case .rotate(let retiring, let activating):
            var changes: [SigningKeyChange] = []
            if let retiring {
                changes.append(.retire(kid: retiring, at: now, unpublishAfter: now.addingTimeInterval(policy.retiredPublicationPeriod)))
            }
            changes.append(.activate(kid: activating, at: now))
            return changes
        case .delete(let kid):
            return [.delete(kid: kid)]
        }
    }
}

/// Carries what the store's update closure (run on another thread, possibly retried) activated.
private final class ActivatedKeys: @unchecked Sendable {
    private var stored: [String] = []
    private let lock = NSLock()
    var kids: [String] { lock.withLock { stored } }
    func replace(with kids: [String]) { lock.withLock { stored = kids } }
}

public enum KeyLifecycleError: Error, CustomStringConvertible, Sendable, Equatable {
    case unknownKey(String)
    case nextKeyTooFresh(kid: String, publishedSeconds: Int, requiredSeconds: Int)
    case corrupt(kid: String)

    public var description: String {
        switch self {
        case .unknownKey(let kid): "no signing key with kid \(kid)"
        case .nextKeyTooFresh(let kid, let published, let required):
            "the next key \(kid) has been published for \(published) s only; relying parties that cached the JWKS may not know it until \(required) s (use --force to rotate anyway)"
        case .corrupt(let kid): "the stored key \(kid) does not match its kid"
        }
    }
}
