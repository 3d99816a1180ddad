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
    private let listener: PostgresListener?
    private let tasks = BackgroundTasks()

    public init(pool: PostgresPool, issuer: Issuer, tokenEndpoint: String, logger: Logger, listenerConfiguration: PostgresConfiguration?,
                argon2Parameters: Argon2Parameters = Argon2Parameters(), argon2Threads: Int = 1) {
        store = PostgresClientStore(pool: pool)
        registrations = CachedClientCredentialStore(store: store)
        secretCache = VerifiedSecretCache()
        // One thread by default: Argon2 (19 MiB, 2 passes) is memory-bound, and a second
        // thread would take the other core from token issuance during a flood.
        argon2 = Argon2Pool(threads: argon2Threads, maxQueued: 32)
        authenticator = ClientAuthenticator(
            store: registrations, argon2: argon2, cache: secretCache, throttle: AuthenticationThrottle(),
            assertionAudiences: [tokenEndpoint, issuer.url], dummyHashParameters: argon2Parameters)
        self.logger = logger
        listener = listenerConfiguration.map { PostgresListener(configuration: $0, channels: [PostgresClientStore.channel]) }
    }

    public func start() {
        var started: [Task<Void, Never>] = [Task { [authenticator, logger] in
            do { try await authenticator.prepare() } catch {
                logger.warning("client authentication not prepared", ["error": "\(error)"])
            }
        }]
        if let listener {
            listener.start()
            started.append(Task { [registrations, secretCache] in
                for await event in listener.events {
                    switch event {
                    case .notification(_, let clientID):
                        registrations.invalidate(clientID: clientID)
                        secretCache.invalidate(clientID: clientID)
                    case .connected:
                        // Changes made while disconnected were not heard: forget everything.
                        secretCache.invalidateAll()
                        registrations.setCaching(true)
                    case .disconnected:
                        registrations.setCaching(false)
                        secretCache.invalidateAll()
                    }
                }
            })
        }
        tasks.add(started)
    }

    public func stop() async {
        listener?.stop()
        // The listener's consumer ends once its thread has closed the connection and
        // finished the event stream; a periodic task ends after its current round.
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
    }

    init(store: PostgresClientStore) { self.store = store }

    func setCaching(_ enabled: Bool) {
        state.withLock { state in
            state.isCaching = enabled
            state.entries.removeAll()
            state.generation &+= 1
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
        guard let found = try await store.clientWithSecrets(id: clientID) else { return nil }
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

    func recordAssertionID(_ jti: String, clientID: String, expiresAt: Date) async throws -> Bool {
        try await store.recordAssertionID(jti, clientID: clientID, expiresAt: expiresAt)
    }
}
