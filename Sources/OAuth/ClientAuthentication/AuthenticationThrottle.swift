import Synchronization

/// Exponential backoff after repeated client-authentication failures, per client id and per source address.
///
/// A wrong secret costs the server one Argon2 verification. After `freeFailures` failures for a
/// client id (or from an address), further attempts for it are refused at once, without running
/// Argon2, for `initialBackoff`, doubling with each further failure up to `maximumBackoff`. So a
/// flood of wrong secrets for one client costs a few Argon2 runs per backoff period, and other
/// clients keep the pool. A success resets the client's count; a count with no failure for
/// `forgetAfter` starts over. The authenticator still accepts a secret it has already verified
/// (a ``VerifiedSecretCache`` hit) while the client is throttled, so an attacker cannot lock out
/// the real client once it has authenticated.
///
/// The HTTP layer reads ``retryAfter(clientID:sourceAddress:)`` (or
/// ``ClientAuthenticator/retryAfter(for:)``) to send `Retry-After`.
public final class AuthenticationThrottle: Sendable {
    /// Failures allowed per key (client id or account) before any backoff.
    public let freeFailures: Int
    /// Failures allowed per source address before any backoff (higher where many people share
    /// one address, as behind a NAT).
    public let addressFreeFailures: Int
    /// The first backoff; each further failure doubles it.
    public let initialBackoff: Duration
    /// Caps the backoff, so that a real client whose secret was fixed is not locked out for long.
    public let maximumBackoff: Duration
    /// A key with no failure for this long is forgotten (its next failure counts as the first).
    public let forgetAfter: Duration
    /// Bounds memory: at most this many client ids and this many addresses are tracked; the
    /// entry whose last failure is oldest is evicted first.
    public let capacity: Int

    /// Bounds the memory one tracked address can take; real IPv6 text is at most 45 bytes.
    static let maximumAddressLength = 64

    private let clock: @Sendable () -> ContinuousClock.Instant
    private let state = Mutex(State())

    private struct Entry {
        var failures: Int
        var lastFailure: ContinuousClock.Instant
        var blockedUntil: ContinuousClock.Instant?
    }

    private struct State {
        var clients: [String: Entry] = [:]
        var addresses: [String: Entry] = [:]
    }

    /// Creates an empty throttle; the defaults allow 5 free failures, then 1 s doubling to 60 s.
    ///
    /// - Parameter clock: a monotonic clock, injectable for tests.
    public init(capacity: Int = 10_000, freeFailures: Int = 5, addressFreeFailures: Int? = nil, initialBackoff: Duration = .seconds(1),
                maximumBackoff: Duration = .seconds(60), forgetAfter: Duration = .seconds(900),
                clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.capacity = max(1, capacity)
        self.freeFailures = max(0, freeFailures)
        self.addressFreeFailures = max(0, addressFreeFailures ?? freeFailures)
        self.initialBackoff = initialBackoff
        self.maximumBackoff = max(initialBackoff, maximumBackoff)
        self.forgetAfter = forgetAfter
        self.clock = clock
    }

    /// How long attempts for this client id or from this address are still refused (the longer
    /// of the two), or nil when neither is backing off.
    public func retryAfter(clientID: String, sourceAddress: String) -> Duration? {
        let now = clock()
        let address = Self.addressKey(sourceAddress)
        return state.withLock { state in
            let waits = [state.clients[clientID], state.addresses[address]].compactMap { entry -> Duration? in
                guard let until = entry?.blockedUntil, until > now else { return nil }
                return until - now
            }
            return waits.max()
        }
    }

    /// Counts a failed verification against the client id and the source address.
    public func recordFailure(clientID: String, sourceAddress: String) {
        let now = clock()
        let address = Self.addressKey(sourceAddress)
        state.withLock { state in
            record(&state.clients, key: clientID, free: freeFailures, now: now)
            record(&state.addresses, key: address, free: addressFreeFailures, now: now)
        }
    }

    /// Forgets the client id's failures after a successful verification. The address keeps its
    /// count: one address guessing many clients' secrets must not reset itself with one it knows.
    public func recordSuccess(clientID: String) {
        state.withLock { state in
            state.clients[clientID] = nil
        }
    }

    /// Whole seconds for `Retry-After` (RFC 9110 §10.2.3), rounded up, at least 1.
    public static func retryAfterSeconds(_ wait: Duration) -> Int {
        max(1, Int((wait / .seconds(1)).rounded(.up)))
    }

    /// Client ids and addresses tracked now (for metrics and tests).
    public var trackedCount: (clients: Int, addresses: Int) {
        state.withLock { ($0.clients.count, $0.addresses.count) }
    }

    private func record(_ entries: inout [String: Entry], key: String, free: Int, now: ContinuousClock.Instant) {
        var entry: Entry
        if let existing = entries[key], now - existing.lastFailure < forgetAfter {
            entry = existing
            entry.failures += 1
            entry.lastFailure = now
        } else {
            if entries[key] == nil, entries.count >= capacity,
               // O(capacity), but only after a failed Argon2 verification, which costs far more.
               let oldest = entries.min(by: { $0.value.lastFailure < $1.value.lastFailure })?.key {
                entries[oldest] = nil
            }
            entry = Entry(failures: 1, lastFailure: now, blockedUntil: nil)
        }
        if entry.failures > free {
            entry.blockedUntil = now + backoff(afterFailures: entry.failures, free: free)
        }
        entries[key] = entry
    }

    /// `initialBackoff` for the first failure beyond the free ones, doubling up to `maximumBackoff`.
    func backoff(afterFailures failures: Int, free: Int? = nil) -> Duration {
        // Stops doubling once past the cap, so the multiplication cannot overflow.
        var wait = initialBackoff
        var extra = failures - (free ?? freeFailures) - 1
        while extra > 0 && wait < maximumBackoff {
            wait *= 2
            extra -= 1
        }
        return min(wait, maximumBackoff)
    }

    static func addressKey(_ address: String) -> String {
        address.utf8.count <= maximumAddressLength ? address : String(decoding: address.utf8.prefix(maximumAddressLength), as: UTF8.self)
    }
}
