/// Why a key could not be generated, loaded or imported.
public enum KeyError: Error, Sendable, Equatable {
    /// The key type (JWK `kty`, or the PKCS#8 algorithm) is not RSA or EC.
    case unsupportedKeyType(String)
    /// An EC key on a curve other than P-256.
    case unsupportedCurve(String)
    /// An RSA modulus size that is not allowed (signing keys: 2048 or 3072 bits; verification keys: 2048–4096).
    case unsupportedKeySize(Int)
    /// The key's type does not match the requested algorithm (for example an EC key for RS256).
    case keyTypeMismatch
    /// A JWK's `alg` is not the algorithm its `kty`/`crv` allows.
    case algorithmMismatch(String)
    /// A JWK member is missing or not valid (named by the payload).
    case invalidMember(String)
    /// DER or PEM input that could not be decoded.
    case invalidEncoding(String)
    /// The key failed OpenSSL's consistency checks (public point off the curve, RSA parts that do not match…).
    case invalidKey
}
