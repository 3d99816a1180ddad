import JOSE

/// A symmetric key that seals opaque access tokens; its short id travels in the token
/// so that keys can rotate while tokens sealed under the previous one stay readable.
public struct OpaqueTokenKey: Sendable {
    public let id: String
    let bytes: [UInt8]

    public init(id: String, bytes: [UInt8]) throws(OpaqueTokenError) {
        guard bytes.count == 32 else { throw .invalidKey }
        guard !id.isEmpty, id.utf8.allSatisfy({ Self.idAlphabet.contains($0) }) else { throw .invalidKey }
        self.id = id
        self.bytes = bytes
    }

    /// Key ids are base64url characters only, so the token splits unambiguously on ".".
    static let idAlphabet = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8))
}

public enum OpaqueTokenError: Error, Sendable, Equatable { case invalidKey }

/// Opaque access tokens: self-contained, readable only by Tessera, no database row per token.
///
/// Format: `tsa_<key id>.<base64url(nonce ‖ AES-256-GCM(claims JSON) ‖ tag)>`. The prefix
/// and key id are authenticated as associated data, so neither can be altered or swapped.
public enum OpaqueAccessToken {
    /// A recognisable prefix, so that secret scanners and people can tell what a token is.
    public static let prefix = "tsa_"

    /// Bounds the work a presented token can cause before it is refused.
    public static let maxLength = 4_096

    public static func seal(_ claims: AccessTokenClaims, key: OpaqueTokenKey) throws -> String {
        let head = prefix + key.id
        let sealed = try AESGCM.seal(Array(claims.json(includeUsername: true).utf8), key: key.bytes, authenticating: Array(head.utf8))
        return head + "." + Base64URL.encode(sealed)
    }

    /// The claims of a token sealed under one of `keys`, or nil for anything else
    /// (foreign, tampered, truncated, unknown key). Expiry is the caller's check.
    public static func open(_ token: String, keys: [String: OpaqueTokenKey]) -> AccessTokenClaims? {
        open(token) { keys[$0] }
    }

    /// The claims of a token sealed under the key `key(id)` returns, or nil.
    public static func open(_ token: String, key lookup: (String) -> OpaqueTokenKey?) -> AccessTokenClaims? {
        guard token.utf8.count <= maxLength, token.hasPrefix(prefix) else { return nil }
        let body = token.dropFirst(prefix.count)
        guard let dot = body.firstIndex(of: ".") else { return nil }
        let keyID = String(body[..<dot])
        guard let key = lookup(keyID), let sealed = Base64URL.decode(String(body[body.index(after: dot)...])),
              let plaintext = try? AESGCM.open(sealed, key: key.bytes, authenticating: Array((prefix + keyID).utf8)) else {
            return nil
        }
        return AccessTokenClaims.parse(json: plaintext)
    }
}

/// RFC 9068 JWT access tokens.
public enum JWTAccessToken {
    /// RFC 9068 §2.1: "Resource servers ... MUST reject JWT access tokens whose typ header is not at+jwt".
    public static let type = "at+jwt"

    public static func sign(_ claims: AccessTokenClaims, key: SigningKey) throws -> String {
        try JWS.sign(payload: Array(claims.json().utf8), key: key, type: type)
    }
}
