import Foundation

/// Browser login sessions, kept under the digest of their cookie value.
public protocol LoginSessionStore: Sendable {
    func createSession(_ session: LoginSession, digest: [UInt8]) async throws
    /// The live session with this digest and its user; nil when unknown, ended or expired.
    func session(digest: [UInt8]) async throws -> (session: LoginSession, user: User)?
    /// Ends the session with this digest; returns its `sid` when there was one.
    @discardableResult
    func endSession(digest: [UInt8]) async throws -> String?
}

/// A pending authorization request as stored while the person signs in or consents.
public struct StoredInteraction: Sendable {
    /// The digest of the browser-binding cookie of the browser that started it.
    public var browserDigest: [UInt8]
    public var request: AuthorizationRequest
    /// Set once the person has signed in during this interaction.
    public var userID: UUID?
    public var sessionDigest: [UInt8]?
    public var expiresAt: Date
    public init(browserDigest: [UInt8], request: AuthorizationRequest, userID: UUID? = nil, sessionDigest: [UInt8]? = nil, expiresAt: Date) {
        self.browserDigest = browserDigest
        self.request = request
        self.userID = userID
        self.sessionDigest = sessionDigest
        self.expiresAt = expiresAt
    }
}

/// Pending authorization requests (interactions), kept under the digest of their id.
public protocol InteractionStore: Sendable {
    func createInteraction(digest: [UInt8], browserDigest: [UInt8], request: AuthorizationRequest, expiresAt: Date) async throws
    /// The unexpired interaction with this digest, or nil.
    func interaction(digest: [UInt8]) async throws -> StoredInteraction?
    /// Records who signed in during the interaction.
    func attachLogin(interactionDigest: [UInt8], userID: UUID, sessionDigest: [UInt8]) async throws
    /// Ends an interaction; true when this call ended it (so that one interaction completes once).
    @discardableResult
    func finishInteraction(digest: [UInt8]) async throws -> Bool
}

/// What each user has allowed each client.
public protocol ConsentStore: Sendable {
    /// The scopes the user has allowed the client, or an empty scope.
    func consentedScope(userID: UUID, clientID: String) async throws -> Scope
    /// Adds `scope` to what the user has allowed the client.
    func grantConsent(userID: UUID, clientID: String, scope: Scope) async throws
}

/// The users the login page and the grants read.
public protocol UserStore: Sendable {
    /// The user with this id (`sub`), disabled or not.
    func user(id: UUID) async throws -> User?
    /// The user with this username (whatever its case) and the Argon2id hash of their password;
    /// disabled users are returned too, and the caller refuses them.
    func credentials(username: String) async throws -> (user: User, passwordHash: String)?
}

/// Revoked access tokens: by `jti`, and every token of a disabled or deleted client or user.
public protocol RevocationStore: Sendable {
    /// Revokes the access token `jti` until `expiresAt` and announces it to every instance.
    func revokeAccessToken(jti: String, expiresAt: Date, reason: String) async throws
    /// Every revocation whose tokens may not have expired yet.
    func unexpiredRevocations() async throws -> RevocationSet
    /// Whether the token these claims describe is revoked.
    func isAccessTokenRevoked(_ claims: AccessTokenClaims) async throws -> Bool
}
