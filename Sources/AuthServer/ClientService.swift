import Foundation
import OAuth
import PasswordHashing
import Synchronization

/// Client authentication for this instance: the authenticator, its caches, and the
/// listener that keeps them true to the database.
///
/// Registrations are cached in memory only while this instance listens to
/// `NOTIFY tessera_clients`: a change (rotation, disable, delete) drops the client from
/// every cache at once, on every instance. While the notification connection is down
/// nothing is cached, so a lost notification can never keep a stale secret alive.
public final class ClientService: Sendable {
    public let authenticator: ClientAuthenticator
    let secretCache: VerifiedSecretCache
    let registrations: CachedClientCredentialStore
    let argon2: Argon2Pool
    private let logger: Logger
    private let tasks = BackgroundTasks()

    /// Argon2 for client secrets: one thread by default (Argon2 at 19 MiB, 2 passes, is memory-bound,
    /// and a second thread would take the other core from token issuance during a flood), and a
    /// queue that answers a flood with 503 quickly.
    static let argon2MaxQueued = 32

    /// - Parameter outageGrace: how long after the change feed was lost cached registrations may
    ///   still be used, and only while storage cannot be reached.
    public init(store: any ClientCredentialStore, issuer: Issuer, logger: Logger, feed: (any ChangeFeed)?,
                argon2Parameters: Argon2Parameters = Argon2Parameters(), argon2Threads: Int = 1, outageGrace: TimeInterval = 0) {
        registrations = CachedClientCredentialStore(store: store, outageGrace: .milliseconds(Int64(outageGrace * 1_000)))
        secretCache = VerifiedSecretCache()
        argon2 = Argon2Pool(threads: argon2Threads, maxQueued: Self.argon2MaxQueued)
        authenticator = ClientAuthenticator(
            store: registrations, argon2: argon2, cache: secretCache, throttle: AuthenticationThrottle(),
            assertionAudience: issuer.url, dummyHashParameters: argon2Parameters)
        self.logger = logger
        feed?.observe(.clients) { [registrations, secretCache] event in
            Self.apply(event, registrations: registrations, secretCache: secretCache)
        }
    }

    /// The client, when it exists and is enabled (for the browser endpoints, which name a client
    /// without authenticating it).
    func enabledClient(id: String) async throws -> Client? {
        guard let client = try await registrations.credentials(clientID: id)?.client, !client.isDisabled else { return nil }
        return client
    }

    public func start() {
        tasks.add([Task { [authenticator, logger] in
            do { try await authenticator.prepare() } catch {
                logger.warning("client authentication not prepared", ["error": "\(error)"])
            }
        }])
    }

    /// What a client change does to the caches; runs where the change is heard, at once (a disabled
    /// client must not be answered from memory a moment longer than needed).
    static func apply(_ event: ChangeEvent, registrations: CachedClientCredentialStore, secretCache: VerifiedSecretCache) {
        switch event {
        case .changed(let clientID):
            registrations.invalidate(clientID: clientID)
            secretCache.invalidate(clientID: clientID)
        case .connected:
            // Changes made while disconnected were not heard: forget everything.
            secretCache.invalidateAll()
            registrations.setCaching(true)
        case .disconnected:
            // Nothing new is cached; what is cached serves only if PostgreSQL cannot be
            // reached, for the outage grace. Verified secrets stay: each is tied to the
            // stored hash it matched, so it can only confirm a registration still in use.
            registrations.setCaching(false)
        }
    }

    public func stop() async {
        await tasks.stopAll()
        argon2.shutdown()
    }
}

/// A ``ClientCredentialStore`` with a bounded in-memory cache of registrations in front, used only
/// while change notifications are being received.
final class CachedClientCredentialStore: ClientCredentialStore {
    let store: any ClientCredentialStore
    private let state = Mutex(State())

    /// A safety net: even with notifications flowing, an entry is re-read after this long.
    static let lifetime: Duration = .seconds(60)
    /// Bounds memory: at most this many clients are cached.
    static let capacity = 10_000

    private struct State {
        var isCaching = false
        var entries: [String: (credentials: ClientCredentials, expires: ContinuousClock.Instant)] = [:]
        /// Bumped by every invalidation, so that a read that raced a change is not cached.
        var generation: UInt64 = 0
        /// When the notification connection was lost (entries are then kept only for outages).
        var disconnectedAt: ContinuousClock.Instant?
        /// What was cached when notifications were last lost, kept after they came back for
        /// outages only (the pool may still fail to reach PostgreSQL when the listener already
        /// does, as after a failover behind a pooler), until `outageEntriesUntil`.
        var outageEntries: [String: ClientCredentials] = [:]
        var outageEntriesUntil: ContinuousClock.Instant?
    }

    /// How long after losing notifications a cached registration may answer while PostgreSQL is unreachable.
    let outageGrace: Duration
    /// How long an entry is served from the cache before it is read again.
    let lifetime: Duration

    init(store: any ClientCredentialStore, outageGrace: Duration = .zero, lifetime: Duration = CachedClientCredentialStore.lifetime) {
        self.store = store
        self.outageGrace = outageGrace
        self.lifetime = lifetime
    }

    /// Starts caching (notifications flow: everything cached before is dropped) or stops it
    /// (notifications lost: entries are kept for ``outageGrace``, for outages only).
    func setCaching(_ enabled: Bool) {
        state.withLock { state in
            state.isCaching = enabled
            state.generation &+= 1
            if enabled {
                // Changes made while disconnected were not heard: nothing cached is served as
                // current, but it may still answer for the rest of the outage grace when
                // PostgreSQL cannot.
                if let since = state.disconnectedAt, outageGrace > .zero {
                    state.outageEntries = state.entries.mapValues(\.credentials)
                    state.outageEntriesUntil = since + outageGrace
                }
                state.entries.removeAll()
                state.disconnectedAt = nil
            } else {
                state.disconnectedAt = state.disconnectedAt ?? ContinuousClock.now
                if outageGrace == .zero { state.entries.removeAll() }
            }
        }
    }

    func invalidate(clientID: String) {
        state.withLock { state in
            state.entries[clientID] = nil
            state.outageEntries[clientID] = nil
            state.generation &+= 1
        }
    }

    func credentials(clientID: String) async throws -> ClientCredentials? {
        let now = ContinuousClock.now
        let (cached, generation) = state.withLock { state -> (ClientCredentials?, UInt64?) in
            guard state.isCaching else { return (nil, nil) }
            if let entry = state.entries[clientID], entry.expires > now { return (entry.credentials, state.generation) }
            return (nil, state.generation)
        }
        if let cached { return cached }
        let credentials: ClientCredentials
        do {
            guard let found = try await store.credentials(clientID: clientID) else { return nil }
            credentials = found
        } catch let error as StorageUnavailable {
            // Storage is unreachable: a registration cached before the outage may serve, for a bounded time.
            if let stale = staleEntry(clientID, now: now) { return stale }
            throw error
        }
        if let generation {
            state.withLock { state in
                guard state.isCaching, state.generation == generation else { return }
                if state.entries.count >= Self.capacity, let victim = state.entries.min(by: { $0.value.expires < $1.value.expires })?.key {
                    state.entries[victim] = nil
                }
                state.entries[clientID] = (credentials, now + lifetime)
            }
        }
        return credentials
    }

    /// The registration held in memory, while notifications flow and the entry is fresh; never waits.
    func cachedCredentials(clientID: String) -> ClientCredentials? {
        let now = ContinuousClock.now
        return state.withLock { state in
            guard state.isCaching, let entry = state.entries[clientID], entry.expires > now else { return nil }
            return entry.credentials
        }
    }

    /// What may answer while PostgreSQL cannot, within the outage grace: an entry past its
    /// lifetime while notifications flow (no change was missed), an entry cached before
    /// notifications were lost, or one kept from before they came back.
    private func staleEntry(_ clientID: String, now: ContinuousClock.Instant) -> ClientCredentials? {
        state.withLock { state in
            if state.isCaching, let entry = state.entries[clientID], now - entry.expires <= outageGrace {
                return entry.credentials
            }
            if !state.isCaching, let since = state.disconnectedAt, now - since <= outageGrace, let entry = state.entries[clientID] {
                return entry.credentials
            }
            if let until = state.outageEntriesUntil, now <= until {
                return state.outageEntries[clientID]
            }
            return nil
        }
    }

    func recordAssertionID(_ jti: String, clientID: String, expiresAt: Date) async throws -> Bool {
        try await store.recordAssertionID(jti, clientID: clientID, expiresAt: expiresAt)
    }
}
