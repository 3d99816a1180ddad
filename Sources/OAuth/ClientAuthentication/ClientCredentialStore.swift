import Foundation

/// One stored client secret: an Argon2id hash, never the secret itself.
public struct StoredClientSecret: Sendable, Equatable {
    /// The Argon2id PHC string (`$argon2id$v=19$…`).
    public var hash: String
    /// When the secret was issued; among grace-period secrets the newest is tried first.
    public var createdAt: Date
    /// nil for a current secret; set for an old secret in its grace period after a rotation.
    public var expiresAt: Date?

    public init(hash: String, createdAt: Date, expiresAt: Date? = nil) {
        self.hash = hash
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    /// Whether the secret may still authenticate at `now`: it is current, or its grace period has not ended.
    public func isUsable(at now: Date) -> Bool {
        guard let expiresAt else { return true }
        return expiresAt > now
    }
}

/// A client registration with the secrets that authenticate it.
public struct ClientCredentials: Sendable {
    public var client: Client
    /// Current and grace-period secrets; expired ones may still be listed and are ignored.
    public var secrets: [StoredClientSecret]

    public init(client: Client, secrets: [StoredClientSecret]) {
        self.client = client
        self.secrets = secrets
    }
}

/// What client authentication needs from storage (PostgreSQL implements it elsewhere).
public protocol ClientCredentialStore: Sendable {
    /// The client and its secrets, or nil when no such client exists. Errors (database down) propagate unchanged.
    func credentials(clientID: String) async throws -> ClientCredentials?

    /// Records a client-assertion `jti` until `expiresAt`; false when this client already used it (replay).
    func recordAssertionID(_ jti: String, clientID: String, expiresAt: Date) async throws -> Bool

    /// The client and its secrets if they are held in memory and may be trusted now, else nil; never
    /// waits. For answers on the event-loop thread (``ClientAuthenticator/authenticateImmediately(_:)``).
    func cachedCredentials(clientID: String) -> ClientCredentials?
}

extension ClientCredentialStore {
    public func cachedCredentials(clientID: String) -> ClientCredentials? { nil }
}
