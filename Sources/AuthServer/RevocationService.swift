import Foundation
import OAuth
import Synchronization

/// The revoked access tokens, held in memory and kept current by the change feed's revocations.
///
/// Every instance loads the unexpired revocations at start and adds each one announced on the
/// channel, so a revocation made on any instance is seen everywhere as soon as the notification
/// arrives. A full reload every ``reloadInterval`` repairs anything missed and forgets expired
/// entries. While the notification connection is down (or before the first load) the set is
/// not trusted: every question goes to PostgreSQL until a reload after reconnecting has finished.
final class RevocationService: Sendable {
    let store: any RevocationStore
    /// Revocations as they are announced (nil: none, and storage answers every question).
    private let changes: AsyncStream<ChangeEvent>?
    private let logger: Logger
    private let state = Mutex(State())
    private let tasks = BackgroundTasks()
    /// How long after losing notifications the set may still answer when PostgreSQL cannot.
    let outageGrace: Duration

    /// The fallback reload period, in case a notification is lost.
    static let reloadInterval: Duration = .seconds(30)

    private struct State {
        /// Revoked token ids, and clients and users whose tokens up to a cut-off are revoked.
        var revoked = RevocationSet()
        /// Whether `revoked` is complete: loaded after the listener connected, with no disconnect since.
        var isSynchronized = false
        /// Bumped by every disconnect, so that a reload that raced one does not claim synchronisation.
        var epoch: UInt64 = 0
        /// When the set stopped being synchronised after having been (nil: synchronised, or never was).
        var desynchronisedAt: ContinuousClock.Instant?
    }

    init(store: any RevocationStore, feed: (any ChangeFeed)?, logger: Logger, outageGrace: TimeInterval = 0) {
        self.store = store
        self.outageGrace = .milliseconds(Int64(outageGrace * 1_000))
        self.logger = logger
        changes = feed?.subscribe(.revocations)
        feed?.observe(.revocations) { [weak self] event in self?.observe(event) }
    }

    /// Whether the access token these claims describe is revoked (by its `jti`, or because its client
    /// or user was disabled or deleted): from memory while synchronised, else from PostgreSQL.
    func isRevoked(_ claims: AccessTokenClaims) async throws -> Bool {
        let known: Bool? = state.withLock { state in
            guard state.isSynchronized else { return nil }
            return state.revoked.isRevoked(claims)
        }
        if let known { return known }
        do {
            return try await store.isAccessTokenRevoked(claims)
        } catch let error as StorageUnavailable {
            // Storage is unreachable, so nothing new can be revoked in it either: the set as it
            // was when notifications stopped may answer, for the outage grace only.
            let now = ContinuousClock.now
            let answer: Bool? = state.withLock { state in
                guard let since = state.desynchronisedAt, now - since <= outageGrace else { return nil }
                return state.revoked.isRevoked(claims)
            }
            if let answer { return answer }
            throw error
        }
    }

    /// Whether the token is revoked, from memory; nil when the set is not synchronised (then only
    /// ``isRevoked(_:)`` can answer). Never waits.
    func isRevokedImmediately(_ claims: AccessTokenClaims) -> Bool? {
        state.withLock { state in state.isSynchronized ? state.revoked.isRevoked(claims) : nil }
    }

    /// Records revocations this instance just committed, so that its own next answer already
    /// knows them (the notification that tells every instance arrives a moment later).
    func didRevoke(_ revoked: [AccessTokenRecord]) {
        guard !revoked.isEmpty else { return }
        state.withLock { state in
            for entry in revoked { state.revoked.revoke(jti: entry.jti, expiresAt: Int64(entry.expiresAt.timeIntervalSince1970)) }
        }
    }

    /// An announced revocation or a lost feed, handled where it is heard, at once: a revoked token
    /// must not be answered active from memory a moment longer than needed.
    private func observe(_ event: ChangeEvent) {
        switch event {
        case .changed(let payload):
            // A jti, or a client or user whose tokens up to a cut-off are revoked.
            let now = Int64(Date().timeIntervalSince1970)
            state.withLock {
                $0.revoked.apply(announcement: payload, now: now, assumedLifetime: AccessTokenIssuer.maximumLifetime + AccessTokenVerifier.clockSkew)
            }
        case .disconnected:
            state.withLock { state in
                if state.isSynchronized { state.desynchronisedAt = ContinuousClock.now }
                state.isSynchronized = false
                state.epoch &+= 1
            }
            logger.warning("revocation notifications lost; asking PostgreSQL until resynchronised")
        case .connected:
            break
        }
    }

    /// Whether answers come from memory (for tests and metrics).
    var isSynchronized: Bool { state.withLock { $0.isSynchronized } }

    func start() {
        guard let changes else { return }
        tasks.add([
            Task { [self] in
                // Reloading needs storage, so it waits for a task; the rest is handled where heard.
                for await event in changes where event == .connected {
                    await reload()
                }
            },
            Task { [self] in
                while !Task.isCancelled {
                    do { try await Task.sleep(for: Self.reloadInterval) } catch { return }
                    if isSynchronized { await reload() }
                }
            },
        ])
    }

    func stop() async {
        await tasks.stopAll()
    }

    /// Loads every unexpired revocation; marks the set synchronised unless the listener
    /// disconnected meanwhile. Notifications that arrive during the load are kept.
    private func reload() async {
        let epoch = state.withLock { $0.epoch }
        do {
            let loaded = try await store.unexpiredRevocations()
            state.withLock { state in
                guard state.epoch == epoch else { return }
                let now = Int64(Date().timeIntervalSince1970)
                var merged = loaded
                merged.merge(state.revoked, now: now)
                state.revoked = merged
                state.isSynchronized = true
                state.desynchronisedAt = nil
            }
        } catch {
            logger.warning("revocations not reloaded", ["error": "\(error)"])
        }
    }
}
