import JOSE
import Synchronization

/// This server's access tokens whose signature or seal was already checked, by the SHA-256 of the
/// token: a gateway exchanges the same person's token, and presents its own actor token, for many
/// requests, and each would otherwise cost a signature verification.
///
/// Only what the token itself proves is kept (its claims, and for a JWT the id of the key that
/// verified it); expiry is checked again on every use, a JWT is accepted from the cache only while
/// its key is still published (an emergency retirement removes it at once), and revocation is never
/// cached. A tampered token has another digest, so it never matches.
public final class VerifiedTokenCache: Sendable {
    private struct Entry {
        var claims: AccessTokenClaims
        /// The key that verified a JWT (nil: an opaque token, whose seal needs no published key).
        var keyID: String?
    }

    private let entries = Mutex<[[UInt8]: Entry]>([:])
    /// Bounds memory: at most this many tokens are kept (a few hundred bytes each).
    public let capacity: Int

    public init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    public static func digest(_ token: String) -> [UInt8] { SHA256.hash(Array(token.utf8)) }

    /// The claims of a token checked before, when it has not expired and its key is still published.
    public func claims(digest: [UInt8], now: Int64, publishedKeys: [VerificationKey]) -> AccessTokenClaims? {
        guard let entry = entries.withLock({ $0[digest] }), entry.claims.expiresAt > now else { return nil }
        if let keyID = entry.keyID, !publishedKeys.contains(where: { $0.kid == keyID }) { return nil }
        return entry.claims
    }

    public func insert(digest: [UInt8], claims: AccessTokenClaims, keyID: String?, now: Int64) {
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { $0.value.claims.expiresAt > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[digest] = Entry(claims: claims, keyID: keyID)
        }
    }
}
