import JOSE
import Synchronization

/// Remembers, for a bounded time, that a client's secret verified, so that later requests cost
/// one HMAC and a constant-time compare instead of an Argon2 verification.
///
/// Only an HMAC-SHA-256 of the presented secret is kept, under a key drawn at random when the
/// cache is created and never stored; the secret itself is never kept. Each entry is tied to the
/// stored hash it was verified against, and a hit counts only while that stored secret is still
/// usable, so a secret removed or past its grace period stops working at once, even before
/// ``invalidate(clientID:)`` runs. Call ``invalidate(clientID:)`` on rotation, disable or delete.
public final class VerifiedSecretCache: Sendable {
    /// How long a verification is remembered.
    public let lifetime: Duration
    /// Bounds memory: at most this many clients have entries; the least recently verified is evicted.
    public let capacity: Int

    /// Secrets remembered per client: a few, so that two deployments of one client presenting the old and
    /// the new secret during a rotation do not keep evicting each other.
    static let entriesPerClient = 4

    private let key: [UInt8]
    private let clock: @Sendable () -> ContinuousClock.Instant
    private let state = Mutex(State())

    private struct Entry {
        var mac: [UInt8]
        /// The stored Argon2id hash the secret matched.
        var storedHash: String
        var expires: ContinuousClock.Instant
    }

    private struct ClientEntries {
        /// Oldest first.
        var entries: [Entry]
        var lastVerified: ContinuousClock.Instant
    }

    private struct State {
        var clients: [String: ClientEntries] = [:]
        /// Bumped by every invalidation, so that a verification that raced one is not cached.
        var generation: UInt64 = 0
    }

    /// Creates an empty cache with a fresh random HMAC key.
    ///
    /// - Parameters:
    ///   - lifetime: how long a verified secret is accepted without Argon2.
    ///   - capacity: the most clients remembered at once.
    ///   - clock: injectable for tests.
    public init(lifetime: Duration = .seconds(300), capacity: Int = 10_000,
                clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.lifetime = lifetime
        self.capacity = max(1, capacity)
        self.clock = clock
        key = SecureRandom.bytes(HMACSHA256.tagLength)
    }

    /// Forgets every verified secret of the client (rotation, disable, delete).
    public func invalidate(clientID: String) {
        state.withLock { state in
            state.clients[clientID] = nil
            state.generation &+= 1
        }
    }

    /// Forgets everything (for instance when change notifications may have been missed).
    public func invalidateAll() {
        state.withLock { state in
            state.clients.removeAll()
            state.generation &+= 1
        }
    }

    /// Clients with entries now (for metrics and tests).
    public var count: Int {
        state.withLock { $0.clients.count }
    }

    /// Read before loading the client's stored secrets; pass to ``insert(clientID:secret:storedHash:generation:)``.
    var generation: UInt64 {
        state.withLock { $0.generation }
    }

    /// Whether `secret` was verified for the client within `lifetime` against one of `usableHashes`.
    func contains(clientID: String, secret: [UInt8], usableHashes: Set<String>) -> Bool {
        let mac = self.mac(clientID: clientID, secret: secret)
        let now = clock()
        let entries = state.withLock { $0.clients[clientID]?.entries } ?? []
        var found = false
        for entry in entries where entry.expires > now && usableHashes.contains(entry.storedHash) {
            // Compared in constant time: the HMAC key is secret, but a timing oracle on the tag is still avoided.
            if constantTimeEquals(mac, entry.mac) { found = true }
        }
        return found
    }

    /// Remembers that `secret` matched `storedHash`, unless an invalidation happened since `generation` was read.
    func insert(clientID: String, secret: [UInt8], storedHash: String, generation: UInt64) {
        let mac = self.mac(clientID: clientID, secret: secret)
        let now = clock()
        let entry = Entry(mac: mac, storedHash: storedHash, expires: now + lifetime)
        state.withLock { state in
            guard state.generation == generation else { return }
            if state.clients[clientID] == nil, state.clients.count >= capacity,
               // O(capacity), but only after a successful Argon2 verification, which costs far more.
               let oldest = state.clients.min(by: { $0.value.lastVerified < $1.value.lastVerified })?.key {
                state.clients[oldest] = nil
            }
            // The same secret verified again replaces its old entry.
            var entries = (state.clients[clientID]?.entries ?? []).filter { $0.expires > now && !constantTimeEquals($0.mac, mac) }
            entries.append(entry)
            if entries.count > Self.entriesPerClient { entries.removeFirst(entries.count - Self.entriesPerClient) }
            state.clients[clientID] = ClientEntries(entries: entries, lastVerified: now)
        }
    }

    /// HMAC over the length-prefixed client id and the secret, so that one client's entry can never match for another.
    private func mac(clientID: String, secret: [UInt8]) -> [UInt8] {
        let id = Array(clientID.utf8)
        let length = UInt32(truncatingIfNeeded: id.count)
        let prefix: [UInt8] = [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        return HMACSHA256.authenticate(prefix + id + secret, key: key)
    }
}
