/// Why a JWS was refused.
public enum JWSError: Error, Sendable, Equatable {
    /// Not a well-formed compact JWS (structure, base64url, header JSON or header member types).
    case malformed(String)
    /// `alg` is `none`, an HMAC algorithm, or anything else this module does not verify.
    case unsupportedAlgorithm(String)
    /// `alg` is not the algorithm of the key selected by `kid`.
    case algorithmMismatch
    /// No key has the header's `kid` (there is no fallback to another key).
    case unknownKey
    /// The header has no `kid` but more than one key could have signed it.
    case missingKeyID
    /// The signature does not verify.
    case badSignature
    /// The header has a `crit` member; no extensions are understood here.
    case unsupportedCriticalHeader
}
