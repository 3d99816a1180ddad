import Synchronization

/// Exponential backoff after repeated authentication failures, per source address and per source
/// address and key (a client id, or an account), and optionally per key from any source.
///
/// A wrong secret costs the server one Argon2 verification. After `freeFailures` failures for a
/// key from one source (or `addressFreeFailures` from one source for any key), further attempts
/// from that source are refused at once, without running Argon2, for `initialBackoff`, doubling
/// with each further failure up to `maximumBackoff`. Source addresses are counted by
/// ``SourceAddressKey`` (an IPv6 /64 is one source).
///
/// No one can lock anyone else out: failures from one source never refuse another source, so the
/// owner of a client id keeps authenticating from its own address however many wrong secrets
/// others send for it. Only when `keyFreeFailures` is set are failures also counted per key from
/// any source (for passwords, which can be guessed from many addresses); callers then decide per
/// attempt whether that count applies (``retryAfter(key:sourceAddress:keyWide:)``), so that it
/// never stands in the way of a browser that has signed in to that account before.
///
/// A success resets the key's counts; a count with no failure for `forgetAfter` starts over. The
/// HTTP layer reads ``retryAfter(key:sourceAddress:keyWide:)`` to send `Retry-After`.
public final class AuthenticationThrottle: Sendable {
    /// Failures allowed per key from one source before any backoff.
    public let freeFailures: Int
    /// Failures allowed per source for any keys before any backoff (higher where many people share
    /// one address, as behind a NAT).
    public let addressFreeFailures: Int
    /// Failures allowed per key from all sources together before that key backs off for attempts
    /// that ask for it; nil: failures are never counted per key alone.
    public let keyFreeFailures: Int?
    /// The first backoff; each further failure doubles it.
    public let initialBackoff: Duration
    /// Caps the backoff, so that a real client whose secret was fixed is not locked out for long.
    public let maximumBackoff: Duration
    /// A key with no failure for this long is forgotten (its next failure counts as the first).
    public let forgetAfter: Duration
    /// Bounds memory: at most this many entries of each kind are tracked; the entry whose last
    /// failure is oldest is evicted first.
    public let capacity: Int

    private let clock: @Sendable () -> ContinuousClock.Instant
    private let state = Mutex(State())

    private struct Entry {
        var failures: Int
        var lastFailure: ContinuousClock.Instant
        var blockedUntil: ContinuousClock.Instant?
    }

    private struct PairKey: Hashable {
        var source: String
        var key: String
    }

    private struct State {
        var pairs: [PairKey: Entry] = [:]
        var addresses: [String: Entry] = [:]
        var keys: [String: Entry] = [:]
    }

    /// Creates an empty throttle; the defaults allow 5 free failures per client from one source,
    /// then 1 s doubling to 60 s.
    ///
    /// - Parameter clock: a monotonic clock, injectable for tests.
    public init(capacity: Int = 10_000, freeFailures: Int = 5, addressFreeFailures: Int? = nil, keyFreeFailures: Int? = nil,
                initialBackoff: Duration = .seconds(1), maximumBackoff: Duration = .seconds(60), forgetAfter: Duration = .seconds(900),
                clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.capacity = max(1, capacity)
        self.freeFailures = max(0, freeFailures)
        self.addressFreeFailures = max(0, addressFreeFailures ?? freeFailures)
        self.keyFreeFailures = keyFreeFailures.map { max(0, $0) }
        self.initialBackoff = initialBackoff
        self.maximumBackoff = max(initialBackoff, maximumBackoff)
        self.forgetAfter = forgetAfter
        self.clock = clock
    }

    /// How long attempts for `key` from this source are still refused (the longest of what applies),
    /// or nil when nothing is backing off.
    ///
    /// - Parameter keyWide: whether the key's count from all sources applies to this attempt
    ///   (only with `keyFreeFailures`; false for a browser known to have signed in to the account).
    public func retryAfter(key: String, sourceAddress: String, keyWide: Bool = true) -> Duration? {
        let now = clock()
        let source = SourceAddressKey.of(sourceAddress)
        return state.withLock { state in
            var entries = [state.pairs[PairKey(source: source, key: key)], state.addresses[source]]
            if keyWide && keyFreeFailures != nil { entries.append(state.keys[key]) }
            let waits = entries.compactMap { entry -> Duration? in
                guard let until = entry?.blockedUntil, until > now else { return nil }
                return until - now
            }
            return waits.max()
        }
    }

    /// Counts a failed verification against the key from this source, the source, and (with
    /// `keyFreeFailures`) the key.
    public func recordFailure(key: String, sourceAddress: String) {
        let now = clock()
        let source = SourceAddressKey.of(sourceAddress)
        state.withLock { state in
            record(&state.pairs, key: PairKey(source: source, key: key), free: freeFailures, now: now)
            record(&state.addresses, key: source, free: addressFreeFailures, now: now)
            if let keyFreeFailures { record(&state.keys, key: key, free: keyFreeFailures, now: now) }
        }
    }

    /// Forgets the key's failures after a successful verification, from this source and overall.
    /// The source keeps its count: one address guessing many clients' secrets must not reset
    /// itself with one it knows.
    public func recordSuccess(key: String, sourceAddress: String) {
        let source = SourceAddressKey.of(sourceAddress)
        state.withLock { state in
            state.pairs[PairKey(source: source, key: key)] = nil
            state.keys[key] = nil
        }
    }

    /// Whole seconds for `Retry-After` (RFC 9110 §10.2.3), rounded up, at least 1.
    public static func retryAfterSeconds(_ wait: Duration) -> Int {
        max(1, Int((wait / .seconds(1)).rounded(.up)))
    }

    /// Entries tracked now (for metrics and tests).
    public var trackedCount: (pairs: Int, addresses: Int, keys: Int) {
        state.withLock { ($0.pairs.count, $0.addresses.count, $0.keys.count) }
    }

    private func record<Key: Hashable>(_ entries: inout [Key: Entry], key: Key, free: Int, now: ContinuousClock.Instant) {
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
}
