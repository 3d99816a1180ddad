import Foundation

/// One refresh: the presented token, who presents it, and what the rotation would issue.
public struct RefreshRotationRequest: Sendable {
    public var tokenDigest: [UInt8]
    public var clientID: String
    /// The digest of the successor (derived from the presented token, so that a grace-window retry
    /// finds the same one).
    public var successorDigest: [UInt8]
    /// Checked against the family's scope before anything changes.
    public var requestedScope: Scope?
    /// The successor expires this long from now (never after the family).
    public var idleLifetime: TimeInterval
    /// The client's grace window (0: any reuse revokes the family).
    public var grace: TimeInterval
    /// The access token issued with the successor, recorded with the family.
    public var accessToken: AccessTokenRecord

    public init(tokenDigest: [UInt8], clientID: String, successorDigest: [UInt8], requestedScope: Scope?, idleLifetime: TimeInterval,
                grace: TimeInterval, accessToken: AccessTokenRecord) {
        self.tokenDigest = tokenDigest
        self.clientID = clientID
        self.successorDigest = successorDigest
        self.requestedScope = requestedScope
        self.idleLifetime = idleLifetime
        self.grace = grace
        self.accessToken = accessToken
    }
}

/// What introspection needs to know of a refresh token.
public struct RefreshTokenStatus: Sendable {
    public var family: RefreshTokenFamily
    public var issuedAt: Date
    public var expiresAt: Date
    /// Unused, unexpired, in a live family of an enabled user.
    public var isActive: Bool
    public init(family: RefreshTokenFamily, issuedAt: Date, expiresAt: Date, isActive: Bool) {
        self.family = family
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.isActive = isActive
    }
}

/// Refresh-token families and their rotating tokens (RFC 6749 §6, RFC 9700 §4.14.2).
///
/// Every decision about a token is atomic: concurrent rotations of one family happen one after the
/// other, on any number of instances, and one that fails changes nothing (it never counts as a use).
public protocol RefreshTokenStore: Sendable {
    /// Rotates the presented token (see ``RefreshRotation`` for the outcomes). Reuse of a rotated
    /// token outside the grace window revokes the family and the access tokens issued from it.
    func rotate(_ request: RefreshRotationRequest) async throws -> RefreshRotation

    /// The family of a refresh token and the client it belongs to, for revocation.
    func family(tokenDigest: [UInt8]) async throws -> (id: UUID, clientID: String)?

    /// What introspection reports of a refresh token, or nil when unknown.
    func status(tokenDigest: [UInt8]) async throws -> RefreshTokenStatus?

    /// Revokes a family and every access token issued from it; returns the access tokens revoked now.
    @discardableResult
    func revoke(familyID: UUID, reason: String) async throws -> [AccessTokenRecord]

    /// Revokes every live family issued in the login session `sid`; returns how many, and the
    /// access tokens revoked with them.
    @discardableResult
    func revokeFamilies(sid: String, reason: String) async throws -> (families: Int, accessTokens: [AccessTokenRecord])
}
