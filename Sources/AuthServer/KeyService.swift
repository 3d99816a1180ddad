import Foundation
import JOSE
import OAuth
import Synchronization

/// Keeps this instance's ``KeyRing`` current and drives automatic rotation.
///
/// Every instance runs the lifecycle check periodically; the store's advisory lock
/// makes exactly one of them perform a due rotation. Changes reach every instance
/// through `NOTIFY tessera_keys` within moments, and a periodic reload covers a lost
/// notification.
public final class KeyService: Sendable {
    public let manager: KeyManager
    private let logger: Logger
    private let state: Mutex<Snapshot>
    private let tasks = BackgroundTasks()
    /// Key changes (nil: none, the periodic reload only).
    private let changes: AsyncStream<ChangeEvent>?

    /// How often the lifecycle is checked and the keys reloaded even without a notification.
    public let maintenanceInterval: Duration

    /// The ring and the JWKS document built from it.
    public struct Snapshot: Sendable {
        public let ring: KeyRing
        public let jwksBody: [UInt8]
        public let jwksETag: String
    }

    /// - Parameter audit: where a rotation made by this instance is recorded (nil: nowhere).
    private let audit: AuditLog?

    public init(manager: KeyManager, logger: Logger, feed: (any ChangeFeed)?, maintenanceInterval: Duration = .seconds(30),
                audit: AuditLog? = nil) {
        self.audit = audit
        self.manager = manager
        self.logger = logger
        self.maintenanceInterval = maintenanceInterval
        self.state = Mutex(Self.snapshot(.empty))
        self.changes = feed?.subscribe(.signingKeys)
    }

    public var current: Snapshot { state.withLock { $0 } }

    /// Creates the first keys if needed and loads them. A wrong key-encryption key is
    /// thrown (a start-up error); a database that is down is logged and retried in the background.
    public func prepare() async throws {
        do {
            try await manager.maintain()
            try await reload()
        } catch let error as KeyEncryptionKeyError {
            throw error
        } catch let error as StorageUnavailable {
            logger.warning("signing keys not loaded yet: database unavailable", ["error": error.detail])
        }
    }

    /// Starts the background maintenance loop and the change listener.
    public func start() {
        let periodic = Task { [weak self] in
            while !Task.isCancelled {
                guard let interval = self?.maintenanceInterval else { return }
                do { try await Task.sleep(for: interval) } catch { return }
                await self?.maintainAndReload()
            }
        }
        var started = [periodic]
        if let changes {
            started.append(Task { [weak self] in
                for await event in changes {
                    switch event {
                    case .changed, .connected:
                        // After a reconnect a notification may have been missed: reload too.
                        await self?.reloadLogged()
                    default:
                        break
                    }
                }
            })
        }
        tasks.add(started)
    }

    /// Stops the change consumer and the maintenance loop and waits for both, so that no key
    /// work (and no OpenSSL or libpq call) is still running when the process exits.
    public func stop() async {
        // A periodic task ends after its current round.
        await tasks.stopAll()
    }

    func maintainAndReload() async {
        do {
            if try await manager.maintain() {
                logger.info("signing keys changed by the lifecycle")
                audit?.record(.keyRotated, ["by": "lifecycle"])
            }
        } catch {
            logger.warning("signing-key maintenance failed", ["error": "\(error)"])
        }
        await reloadLogged()
    }

    func reloadLogged() async {
        do { try await reload() } catch {
            logger.warning("signing keys not reloaded", ["error": "\(error)"])
        }
    }

    /// Reads the keys again and swaps in the new ring.
    public func reload() async throws {
        let ring = try await manager.loadRing()
        let snapshot = Self.snapshot(ring)
        let changed = state.withLock { current -> Bool in
            let changed = current.jwksETag != snapshot.jwksETag
            current = snapshot
            return changed
        }
        if changed {
            logger.info("signing keys loaded", ["kids": ring.jwks.keys.compactMap(\.kid).joined(separator: ",")])
        }
    }

    static func snapshot(_ ring: KeyRing) -> Snapshot {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(ring.jwks)).map(Array.init) ?? Array(#"{"keys":[]}"#.utf8)
        // A strong validator derived from the content: equal documents, equal tags on every instance.
        let etag = "\"" + Base64URL.encode(Array(SHA256.hash(body).prefix(16))) + "\""
        return Snapshot(ring: ring, jwksBody: body, jwksETag: etag)
    }
}
