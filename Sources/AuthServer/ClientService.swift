import Foundation
import OAuth
import PasswordHashing
import Postgres
import PostgresStorage
import Synchronization

/// Client authentication for this instance: the authenticator, its caches, and the
/// listener that keeps them true to the database.
///
/// Registrations are cached in memory only while this instance listens to
/// `NOTIFY tessera_clients`: a change (rotation, disable, delete) drops the client from
/// every cache at once, on every instance. While the notification connection is down
/// nothing is cached, so a lost notification can never keep a stale secret alive.
public final class ClientService: Sendable {
    public let store: PostgresClientStore
    public let authenticator: ClientAuthenticator
    let secretCache: VerifiedSecretCache
    let registrations: CachedClientCredentialStore
    let argon2: Argon2Pool
    private let logger: Logger
    /// Client changes announced on `tessera_clients` (nil: none, and nothing is cached).
    private let changes: AsyncStream<PostgresListenerEvent>?
    private let tasks = BackgroundTasks()

    /// - Parameter outageGrace: how long after the notification connection was lost cached
    ///   registrations may still be used, and only while PostgreSQL cannot be reached.
    public init(pool: PostgresPool, issuer: Issuer, logger: Logger, notifications: PostgresNotificationHub?,
                argon2Parameters: Argon2Parameters = Argon2Parameters(), argon2Threads: Int = 1, outageGrace: TimeInterval = 0) {
        store = PostgresClientStore(pool: pool)
        registrations = CachedClientCredentialStore(store: store, outageGrace: .milliseconds(Int64(outageGrace * 1_000)))
        secretCache = VerifiedSecretCache()
        // One thread by default: Argon2 (19 MiB, 2 passes) is memory-bound, and a second
        // thread would take the other core from token issuance during a flood.
        argon2 = Argon2Pool(threads: argon2Threads, maxQueued: 32)
        authenticator = ClientAuthenticator(
            store: registrations, argon2: argon2, cache: secretCache, throttle: AuthenticationThrottle(),
            assertionAudience: issuer.url, dummyHashParameters: argon2Parameters)
        self.logger = logger
        changes = notifications?.subscribe(PostgresClientStore.channel)
    }

    public func start() {
        var started: [Task<Void, Never>] = [Task { [authenticator, logger] in
            do { try await authenticator.prepare() } catch {
                logger.warning("client authentication not prepared", ["error": "\(error)"])
            }
        }]
        if let changes {
            started.append(Task { [registrations, secretCache] in
                for await event in changes {
                    switch event {
                    case .notification(_, let clientID):
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
            })
        }
        tasks.add(started)
    }

    public func stop() async {
        await tasks.stopAll()
        argon2.shutdown()
    }
}

/// ``ClientCredentialStore`` on ``PostgresClientStore`` with a bounded in-memory cache of
/// registrations, used only while change notifications are being received.
final class CachedClientCredentialStore: ClientCredentialStore {
    let store: PostgresClientStore
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
    }

    /// How long after losing notifications a cached registration may answer while PostgreSQL is unreachable.
    let outageGrace: Duration

    init(store: PostgresClientStore, outageGrace: Duration = .zero) {
        self.store = store
        self.outageGrace = outageGrace
    }

    /// Starts caching (notifications flow: everything cached before is dropped) or stops it
    /// (notifications lost: entries are kept for ``outageGrace``, for outages only).
    func setCaching(_ enabled: Bool) {
        state.withLock { state in
            state.isCaching = enabled
            state.generation &+= 1
            if enabled {
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
        let found: (client: Client, secrets: [(hash: String, createdAt: Date, expiresAt: Date?)])?
        do {
            found = try await store.clientWithSecrets(id: clientID)
        } catch let error as PostgresError where error.isConnectionFailure || error.kind == .poolExhausted {
            // PostgreSQL is unreachable: a registration cached before the outage may serve, for a bounded time.
            if let stale = staleEntry(clientID, now: now) { return stale }
            throw error
        }
        guard let found else { return nil }
        let credentials = ClientCredentials(client: found.client, secrets: found.secrets.map {
            StoredClientSecret(hash: $0.hash, createdAt: $0.createdAt, expiresAt: $0.expiresAt)
        })
        if let generation {
            state.withLock { state in
                guard state.isCaching, state.generation == generation else { return }
                if state.entries.count >= Self.capacity, let victim = state.entries.min(by: { $0.value.expires < $1.value.expires })?.key {
                    state.entries[victim] = nil
                }
                state.entries[clientID] = (credentials, now + Self.lifetime)
            }
        }
        return credentials
    }

    /// The entry cached before notifications were lost, if the outage grace has not run out.
    private func staleEntry(_ clientID: String, now: ContinuousClock.Instant) -> ClientCredentials? {
        state.withLock { state in
            guard !state.isCaching, let since = state.disconnectedAt, now - since <= outageGrace else { return nil }
            return state.entries[clientID]?.credentials
        }
    }

    func recordAssertionID(_ jti: String, clientID: String, expiresAt: Date) async throws -> Bool {
        try await store.recordAssertionID(jti, clientID: clientID, expiresAt: expiresAt)
    }
}
