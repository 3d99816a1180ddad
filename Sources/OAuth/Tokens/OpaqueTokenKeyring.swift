import Foundation
import JOSE

/// The rotating keys that seal opaque access tokens.
///
/// One key per ``period``, derived from the key-encryption key, so every instance seals
/// and opens with the same keys without storing them or coordinating a rotation. The key
/// id (`k` and the period number) travels in the token; a token names a period whose key
/// could still have sealed a valid token, or it is refused without any decryption.
public struct OpaqueTokenKeyring: Sendable {
    /// How long one key seals tokens.
    public static let period: Int64 = 86_400
    /// Tolerated difference between the clocks of instances that share the keys.
    public static let clockSkew: Int64 = 60

    private let root: [UInt8]
    /// The longest access-token lifetime a client can be given: keys older than that
    /// (plus the period and skew) cannot have sealed a token that is still valid.
    public let maxTokenLifetime: Int64

    public init(kek: KeyEncryptionKey, maxTokenLifetime: Int64 = 86_400) {
        self.init(root: kek.derivedKey(purpose: "opaque access tokens"), maxTokenLifetime: maxTokenLifetime)
    }

    init(root: [UInt8], maxTokenLifetime: Int64) {
        self.root = root
        self.maxTokenLifetime = maxTokenLifetime
    }

    /// The key that seals tokens issued at `now`.
    public func sealingKey(at now: Int64) -> OpaqueTokenKey? {
        key(forPeriod: Self.periodNumber(of: now))
    }

    /// The key named `id`, when it may have sealed a token that is still valid at `now`.
    public func openingKey(id: String, at now: Int64) -> OpaqueTokenKey? {
        guard id.utf8.count <= 12, id.hasPrefix("k"), let number = Int64(id.dropFirst()), "k\(number)" == id else { return nil }
        let oldest = Self.periodNumber(of: now - maxTokenLifetime - Self.clockSkew)
        let newest = Self.periodNumber(of: now + Self.clockSkew)
        guard (oldest...newest).contains(number) else { return nil }
        return key(forPeriod: number)
    }

    /// Seals `claims` under the current key.
    public func seal(_ claims: AccessTokenClaims) throws -> String {
        guard let key = sealingKey(at: claims.issuedAt) else { throw OpaqueTokenError.invalidKey }
        return try OpaqueAccessToken.seal(claims, key: key)
    }

    /// The claims of a token this keyring sealed, or nil (expiry is the caller's check).
    public func open(_ token: String, at now: Int64) -> AccessTokenClaims? {
        OpaqueAccessToken.open(token) { id in openingKey(id: id, at: now) }
    }

    static func periodNumber(of time: Int64) -> Int64 {
        time >= 0 ? time / period : (time - period + 1) / period
    }

    private func key(forPeriod number: Int64) -> OpaqueTokenKey? {
        var label = Array("opaque access token key for period ".utf8)
        withUnsafeBytes(of: number.bigEndian) { label.append(contentsOf: $0) }
        return try? OpaqueTokenKey(id: "k\(number)", bytes: HMACSHA256.authenticate(label, key: root))
    }
}
