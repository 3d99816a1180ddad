import Foundation
import JOSE

/// A browser's sign-in, kept server-side. The browser holds a random id in a cookie; storage
/// keeps only its ``TokenDigest``.
public struct LoginSession: Sendable, Equatable {
    /// The public session id, sent as the ID token's `sid`; unrelated to the cookie value.
    public var sid: String
    public var userID: UUID
    /// When the person last entered their password (OIDC Core §2 `auth_time`).
    public var authTime: Date
    public var expiresAt: Date

    public init(sid: String, userID: UUID, authTime: Date, expiresAt: Date) {
        self.sid = sid
        self.userID = userID
        self.authTime = authTime
        self.expiresAt = expiresAt
    }

    /// A new random secret for a cookie or an interaction: 256 bits, base64url.
    public static func newSecret() -> String { Base64URL.encode(SecureRandom.bytes(32)) }

    /// A new public session id: 128 random bits, base64url.
    public static func newSID() -> String { Base64URL.encode(SecureRandom.bytes(16)) }
}
