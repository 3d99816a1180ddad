import Foundation
import JOSE
import OAuth
import Synchronization

/// The trusted external issuers and their keys, held in memory (``TrustedIssuerDirectory``).
///
/// Registrations are loaded at start and again whenever one changes (`NOTIFY tessera_issuers`) or the
/// change feed reconnects. Keys registered from a file come with the registration; keys published at a
/// JWKS URI are fetched at load, every ``refreshInterval``, and again when a token names a key id the
/// issuer's set lacks (a rotation), at most once per ``refetchInterval`` (30 s). While a fetch fails, the keys
/// fetched before keep answering. Exchanges never wait on the database or on a fetch longer than the
/// fetcher's bounds.
final class TrustedIssuerService: TrustedIssuerDirectory {
    let store: any TrustedIssuerStore
    let fetcher: any JWKSFetching
    private let logger: Logger
    private let metrics: Metrics?
    private let changes: AsyncStream<ChangeEvent>?
    private let state = Mutex(State())
    private let tasks = BackgroundTasks()

    /// How often published keys are fetched again.
    static let refreshInterval: Duration = .seconds(300)
    /// Bounds the fetches an unknown key id can cause: at most one per issuer in this period.
    let refetchInterval: Duration
    /// How often registrations are read again, in case a notification was lost.
    static let reloadInterval: Duration = .seconds(60)

    private struct Entry {
        var registration: TrustedIssuerRegistration
        var keys: [VerificationKey]
        /// When a fetch of the JWKS URI was last started (nil: never).
        var lastFetch: ContinuousClock.Instant?
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var isLoaded = false
    }

    init(store: any TrustedIssuerStore, fetcher: any JWKSFetching = URLSessionJWKSFetcher(), feed: (any ChangeFeed)?, logger: Logger,
         metrics: Metrics? = nil, refetchInterval: Duration = .seconds(30)) {
        self.store = store
        self.refetchInterval = refetchInterval
        self.fetcher = fetcher
        self.logger = logger
        self.metrics = metrics
        changes = feed?.subscribe(.issuers)
    }

    func trustedIssuer(_ issuer: String, keyID: String?) async throws -> TrustedIssuer? {
        if !state.withLock({ $0.isLoaded }) { try await reload() }
        guard let entry = state.withLock({ $0.entries[issuer] }) else { return nil }
        var keys = entry.keys
        if entry.registration.jwksURI != nil, keys.isEmpty || (keyID.map { id in !keys.contains { $0.kid == id } } ?? false) {
            keys = await refetch(issuer, force: false) ?? keys
        }
        return TrustedIssuer(issuer: entry.registration.issuer, audiences: entry.registration.audiences,
                             subjectPrefix: entry.registration.subjectPrefix, keys: keys)
    }

    /// Reads every registration; keys of a JWKS URI already fetched for the same URI are kept, new
    /// ones are fetched.
    func reload() async throws {
        let registrations = try await store.trustedIssuers()
        var toFetch: [String] = []
        state.withLock { state in
            var entries: [String: Entry] = [:]
            for registration in registrations {
                let previous = state.entries[registration.issuer]
                if let jwks = registration.jwks {
                    entries[registration.issuer] = Entry(registration: registration, keys: Self.keys(of: jwks), lastFetch: nil)
                } else if let previous, previous.registration.jwksURI == registration.jwksURI {
                    entries[registration.issuer] = Entry(registration: registration, keys: previous.keys, lastFetch: previous.lastFetch)
                } else {
                    entries[registration.issuer] = Entry(registration: registration, keys: [], lastFetch: nil)
                    toFetch.append(registration.issuer)
                }
            }
            state.entries = entries
            state.isLoaded = true
        }
        for issuer in toFetch { _ = await refetch(issuer, force: true) }
    }

    /// Fetches the issuer's published keys unless a fetch started within ``refetchInterval`` (or
    /// `force`); returns the keys then held.
    private func refetch(_ issuer: String, force: Bool) async -> [VerificationKey]? {
        let now = ContinuousClock.now
        let uri: String? = state.withLock { state in
            guard var entry = state.entries[issuer], let uri = entry.registration.jwksURI else { return nil }
            if !force, let last = entry.lastFetch, now - last < refetchInterval { return nil }
            entry.lastFetch = now
            state.entries[issuer] = entry
            return uri
        }
        guard let uri else { return state.withLock { $0.entries[issuer]?.keys } }
        do {
            let keys = Self.keys(of: try await fetcher.fetch(uri))
            guard !keys.isEmpty else { throw JWKSFetchError(description: "no usable RS256 or ES256 key") }
            state.withLock { state in
                // Only if the registration still names this URI (it may have changed meanwhile).
                if state.entries[issuer]?.registration.jwksURI == uri { state.entries[issuer]?.keys = keys }
            }
            metrics?.jwksFetched(success: true)
            logger.info("trusted issuer keys fetched", ["issuer": issuer, "keys": "\(keys.count)"])
        } catch {
            metrics?.jwksFetched(success: false)
            logger.warning("trusted issuer keys not fetched; the previous ones stay", ["issuer": issuer, "jwks_uri": uri, "error": "\(error)"])
        }
        return state.withLock { $0.entries[issuer]?.keys }
    }

    /// The usable keys of a set: RS256 and ES256 signing keys; others (encryption keys, other
    /// algorithms) are left out. At most ``TrustedIssuerRegistration/maximumKeys``.
    static func keys(of jwks: JWKS) -> [VerificationKey] {
        Array(jwks.keys.compactMap { try? VerificationKey(jwk: $0) }.prefix(TrustedIssuerRegistration.maximumKeys))
    }

    func start() {
        var started: [Task<Void, Never>] = [
            Task { [self] in
                do { try await reload() } catch { logger.warning("trusted issuers not loaded", ["error": "\(error)"]) }
            },
            Task { [self] in
                var sinceReload: Duration = .zero
                while !Task.isCancelled {
                    do { try await Task.sleep(for: Self.reloadInterval) } catch { return }
                    sinceReload += Self.reloadInterval
                    do { try await reload() } catch { logger.warning("trusted issuers not reloaded", ["error": "\(error)"]) }
                    if sinceReload >= Self.refreshInterval {
                        sinceReload = .zero
                        let issuers = state.withLock { $0.entries.values.filter { $0.registration.jwksURI != nil }.map(\.registration.issuer) }
                        for issuer in issuers { _ = await refetch(issuer, force: true) }
                    }
                }
            },
        ]
        if let changes {
            started.append(Task { [self] in
                for await event in changes {
                    switch event {
                    case .changed, .connected:
                        do { try await reload() } catch { logger.warning("trusted issuers not reloaded", ["error": "\(error)"]) }
                    case .disconnected:
                        break
                    }
                }
            })
        }
        tasks.add(started)
    }

    func stop() async {
        await tasks.stopAll()
    }
}
