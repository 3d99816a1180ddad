import Foundation
import JOSE

/// A refresh-token family: one grant of a user to a client, whose refresh tokens rotate.
public struct RefreshTokenFamily: Sendable, Equatable {
    public var id: UUID
    public var clientID: String
    public var userID: UUID
    /// The scope granted; a refresh may narrow what one access token gets, never the family.
    public var scopes: [String]
    public var audiences: [String]
    /// When the user authenticated: kept in every ID token issued on refresh (OIDC Core §12.2).
    public var authTime: Date
    /// The login session the family was issued in, so that logging out revokes it.
    public var sid: String?
    /// The absolute end of the family: no rotation extends it.
    public var expiresAt: Date
    /// The user's current username, when storage read it with the family.
    public var username: String?

    public init(id: UUID = UUID(), clientID: String, userID: UUID, scopes: [String], audiences: [String], authTime: Date,
                sid: String?, expiresAt: Date) {
        self.id = id
        self.clientID = clientID
        self.userID = userID
        self.scopes = scopes
        self.audiences = audiences
        self.authTime = authTime
        self.sid = sid
        self.expiresAt = expiresAt
    }

    public var scope: Scope { Scope(scopes) }
}

/// How a client's refresh tokens live: idle and absolute lifetimes, and the reuse grace window.
public struct RefreshPolicy: Sendable, Equatable {
    /// A token unused for this long expires (each rotation starts a new idle period).
    public var idleLifetime: TimeInterval
    /// The family ends this long after it was issued, however often it rotates.
    public var absoluteLifetime: TimeInterval
    /// Within this long after a rotation, the same client presenting the rotated token gets the
    /// same successor again instead of a revocation (0: strict).
    public var grace: TimeInterval

    public init(idleLifetime: TimeInterval, absoluteLifetime: TimeInterval, grace: TimeInterval = 0) {
        self.idleLifetime = idleLifetime
        self.absoluteLifetime = absoluteLifetime
        self.grace = grace
    }
}

/// The `refresh_token` grant (RFC 6749 §6) with rotation (RFC 9700 §4.14.2).
public struct RefreshTokenGrant: Sendable {
    public let tokens: any RefreshTokenStore
    public let minter: TokenMinter
    public let settings: RefreshSettings
    public let observer: any GrantObserver
    public let clock: @Sendable () -> Date

    public init(tokens: any RefreshTokenStore, minter: TokenMinter, settings: RefreshSettings, observer: any GrantObserver,
                clock: @escaping @Sendable () -> Date = Date.init) {
        self.tokens = tokens
        self.minter = minter
        self.settings = settings
        self.observer = observer
        self.clock = clock
    }

    /// Rotates the presented refresh token and issues a new access token (and an ID token for
    /// OpenID families, keeping `auth_time` and `sid`, OIDC Core §12.2).
    ///
    /// A reused token outside the client's grace window revokes its family (storage does it in the
    /// same transaction); a retry within it gets the same successor again. A disabled user's family
    /// cannot rotate; a deleted user's families are gone with them.
    public func refresh(_ form: TokenRequest, client: Client, ring: KeyRing) async throws -> TokenResponse {
        guard let presented = form["refresh_token"] else { throw OAuthError.invalidRequest("The refresh_token parameter is missing.") }
        let requested = try form["scope"].map { text throws(OAuthError) in try Scope(parsing: text) }
        guard Self.isWellFormed(presented) else { throw Self.failure("malformed refresh token") }
        let now = clock()
        let jwtID = AccessTokenIssuer.newJWTID()
        let successor = Self.successor(of: presented, key: settings.successorKey)
        let policy = settings.policy(for: client)
        let rotation = try await tokens.rotate(RefreshRotationRequest(
            tokenDigest: TokenDigest.of(presented), clientID: client.id, successorDigest: TokenDigest.of(successor), requestedScope: requested,
            idleLifetime: policy.idleLifetime, grace: policy.grace,
            accessToken: AccessTokenRecord(jti: jwtID, expiresAt: minter.accessTokenExpiry(client: client, now: now))))
        let family: RefreshTokenFamily
        switch rotation {
        case .rotated(let rotated):
            family = rotated
        case .graceRetry(let retried):
            observer.refreshGraceRetry(clientID: client.id, familyID: retried.id)
            family = retried
        case .reuseDetected(let familyID, let revoked):
            observer.revoked(revoked)
            observer.refreshTokenReused(clientID: client.id, familyID: familyID)
            throw Self.failure("reuse of a rotated refresh token")
        case .invalid(let detail):
            throw Self.failure(detail)
        case .invalidScope:
            throw OAuthError(.invalidScope, "The requested scope exceeds the scope originally granted.")
        }
        let scope = requested ?? family.scope
        let openID = family.scope.contains("openid") && scope.contains("openid")
        return try minter.mint(
            client: client, subject: family.userID.uuidString.lowercased(), username: family.username, scope: scope, audiences: family.audiences,
            jwtID: jwtID, now: now, ring: ring, refreshToken: successor,
            authentication: openID ? AuthenticationContext(authTime: family.authTime, nonce: nil, sid: family.sid) : nil)
    }

    /// The description of every `invalid_grant` of this grant: it tells nothing of which check failed.
    public static let failureDescription = "The refresh token is invalid, expired, or revoked."

    public static func failure(_ detail: String) -> OAuthError {
        OAuthError(.invalidGrant, failureDescription, detail: detail)
    }

    /// Whether a refresh token is issued with an authorization-code grant: the client must be
    /// registered for `refresh_token`, and an OpenID request must have been granted
    /// `offline_access` (OIDC Core §11: "the use of Refresh Tokens is not exclusively linked to
    /// offline_access", but for OpenID requests Tessera requires it).
    public static func isIssued(to client: Client, scope: Scope) -> Bool {
        guard client.grantTypes.contains(.refreshToken) else { return false }
        return !scope.contains("openid") || scope.contains("offline_access")
    }

    /// The scope of the access token a refresh issues. RFC 6749 §6: the requested scope "MUST NOT
    /// include any scope not originally granted by the resource owner, and if omitted is treated
    /// as equal to the scope originally granted".
    public static func scope(requested: String?, granted: Scope) throws(OAuthError) -> Scope {
        guard let requested else { return granted }
        let scope = try Scope(parsing: requested)
        guard scope.isSubset(of: granted) else {
            throw OAuthError(.invalidScope, "The requested scope exceeds the scope originally granted.")
        }
        return scope
    }

    /// A new refresh token for a new family: 256 random bits.
    public static func newToken() -> String { "tsr_" + Base64URL.encode(SecureRandom.bytes(32)) }

    /// The successor of `token`, derived with a server-side key: the same presented token always
    /// has the same successor, so a grace-window retry can be given it again while only its hash
    /// is stored.
    public static func successor(of token: String, key: [UInt8]) -> String {
        "tsr_" + Base64URL.encode(HMACSHA256.authenticate(Array("refresh successor:\(token)".utf8), key: key))
    }

    /// Whether `token` has the shape of a refresh token this server issues.
    public static func isWellFormed(_ token: String) -> Bool {
        token.utf8.count == 47 && token.hasPrefix("tsr_")
    }
}

/// What happened to a presented refresh token, decided atomically by storage.
public enum RefreshRotation: Sendable, Equatable {
    /// Rotated: the successor is stored and the presented token is used.
    case rotated(RefreshTokenFamily)
    /// A retry within the client's grace window: the same successor is valid again.
    case graceRetry(RefreshTokenFamily)
    /// An already rotated token outside the grace window: the family is revoked now, with the
    /// access tokens issued from it (listed).
    case reuseDetected(familyID: UUID, revoked: [AccessTokenRecord])
    /// Unknown, expired, revoked or another client's: nothing changed.
    case invalid(detail: String)
    /// The requested scope exceeds the family's: nothing changed.
    case invalidScope
}
