import Foundation
import HTTPServer
import Synchronization

/// Token buckets in memory, one per key (a client id, or a source address as ``SourceAddressKey``
/// counts it: an IPv6 /64 is one source): each holds up to
/// `burst` requests and refills at `rate` per second. Per instance: behind a load balancer
/// each instance allows its own share.
final class RateLimiter: Sendable {
    /// Requests per second; 0 turns the limit off.
    let rate: Double
    let burst: Double
    let name: String
    private let clock: @Sendable () -> ContinuousClock.Instant
    private let buckets = Mutex<[String: Bucket]>([:])

    /// Bounds memory: at most this many keys are tracked; when full, full buckets are dropped
    /// (a full bucket is the same as no bucket), then the oldest.
    static let capacity = 50_000
    /// Keys longer than this are cut: an address is at most 45 bytes, a client id 128.
    static let maximumKeyLength = 160

    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    init(name: String, rate: Double, burst: Double? = nil, clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.name = name
        self.rate = max(0, rate)
        self.burst = max(1, burst ?? rate * 2)
        self.clock = clock
    }

    var isEnabled: Bool { rate > 0 }

    /// Takes one request from `key`'s bucket: nil when allowed, else the seconds until one is available.
    func take(_ key: String) -> Int? {
        guard isEnabled else { return nil }
        return update(key, consume: true)
    }

    /// Whether `key`'s bucket is empty (without taking from it): the seconds until it is not, or nil.
    func retryAfter(_ key: String) -> Int? {
        guard isEnabled else { return nil }
        return update(key, consume: false)
    }

    private func update(_ key: String, consume: Bool) -> Int? {
        let key = key.utf8.count <= Self.maximumKeyLength ? key : String(decoding: key.utf8.prefix(Self.maximumKeyLength), as: UTF8.self)
        let now = clock()
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: burst, updated: now)
            let elapsed = now - bucket.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(burst, bucket.tokens + seconds * rate)
            bucket.updated = now
            guard bucket.tokens >= 1 else {
                buckets[key] = bucket
                return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up)))
            }
            if consume { bucket.tokens -= 1 }
            if buckets[key] == nil && buckets.count >= Self.capacity { evict(&buckets, now: now) }
            buckets[key] = bucket
            return nil
        }
    }

    private func evict(_ buckets: inout [String: Bucket], now: ContinuousClock.Instant) {
        let full = buckets.filter { entry in
            let elapsed = now - entry.value.updated
            return entry.value.tokens + (Double(elapsed.components.seconds) * rate) >= burst
        }.map(\.key)
        for key in full { buckets[key] = nil }
        if buckets.count >= Self.capacity, let oldest = buckets.min(by: { $0.value.updated < $1.value.updated })?.key {
            buckets[oldest] = nil
        }
    }
}

/// The rate limits of one instance (issue-level settings in ``Configuration``).
struct RateLimits: Sendable {
    /// Per client: token requests.
    let token: RateLimiter
    /// Per client: introspection requests.
    let introspection: RateLimiter
    /// Per client: revocation requests.
    let revocation: RateLimiter
    /// Per source address: failed token-endpoint requests.
    let tokenFailures: RateLimiter
    /// Per source address: the browser pages (authorize, login, consent, logout).
    let browser: RateLimiter
    let audit: AuditLog
    let metrics: Metrics

    init(_ configuration: Configuration, audit: AuditLog, metrics: Metrics) {
        self.audit = audit
        self.metrics = metrics
        token = RateLimiter(name: "token_per_client", rate: configuration.rateLimits.token)
        introspection = RateLimiter(name: "introspection_per_client", rate: configuration.rateLimits.introspection)
        revocation = RateLimiter(name: "revocation_per_client", rate: configuration.rateLimits.revocation)
        tokenFailures = RateLimiter(name: "token_failures_per_address", rate: configuration.rateLimits.tokenFailures)
        browser = RateLimiter(name: "browser_per_address", rate: configuration.rateLimits.browser)
    }
}

extension RateLimits {
    /// Takes one request from `key`'s bucket of `limiter`, or throws ``RateLimited`` (audited and counted).
    func enforce(_ limiter: RateLimiter, key: String) throws(RateLimited) {
        guard let wait = limiter.take(key) else { return }
        refuse(limiter, retryAfter: wait)
        throw RateLimited(limit: limiter.name, retryAfter: wait)
    }

    /// Throws ``RateLimited`` when `key`'s bucket of `limiter` is empty, without taking from it.
    func check(_ limiter: RateLimiter, key: String) throws(RateLimited) {
        guard let wait = limiter.retryAfter(key) else { return }
        refuse(limiter, retryAfter: wait)
        throw RateLimited(limit: limiter.name, retryAfter: wait)
    }

    private func refuse(_ limiter: RateLimiter, retryAfter: Int) {
        audit.record(.rateLimited, ["limit": limiter.name, "retry_after": "\(retryAfter)"])
        metrics.rateLimited(limiter.name)
    }
}

/// A request refused by a rate limit; answered 429 with `Retry-After`.
struct RateLimited: Error {
    let limit: String
    let retryAfter: Int
}
