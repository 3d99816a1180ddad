/// The JWS algorithms Tessera signs and verifies with (RFC 7518 §3.1). Every key has exactly one.
public enum JWSAlgorithm: String, Sendable, Codable, CaseIterable {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    case rs256 = "RS256"
    /// ECDSA on P-256 with SHA-256, signature as the 64-byte R || S (RFC 7518 §3.4).
    case es256 = "ES256"
}
