import Foundation

/// The server's refresh-token settings: default lifetimes and the key successors are derived with.
public struct RefreshSettings: Sendable {
    public let defaultIdleLifetime: TimeInterval
    public let defaultAbsoluteLifetime: TimeInterval
    /// Derives each token's successor (``RefreshTokenGrant/successor(of:key:)``); the same on every
    /// instance that shares the key-encryption key.
    public let successorKey: [UInt8]

    public init(defaultIdleLifetime: TimeInterval, defaultAbsoluteLifetime: TimeInterval, successorKey: [UInt8]) {
        self.defaultIdleLifetime = defaultIdleLifetime
        self.defaultAbsoluteLifetime = defaultAbsoluteLifetime
        self.successorKey = successorKey
    }

    /// The client's policy: its own lifetimes where set, the server's otherwise.
    public func policy(for client: Client) -> RefreshPolicy {
        RefreshPolicy(idleLifetime: client.refreshIdleLifetime ?? defaultIdleLifetime,
                      absoluteLifetime: client.refreshAbsoluteLifetime ?? defaultAbsoluteLifetime, grace: client.refreshGrace)
    }
}
