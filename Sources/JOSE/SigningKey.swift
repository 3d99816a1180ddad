/// A private key that signs JWS with exactly one algorithm.
///
/// Thread safety: every stored property is immutable and the OpenSSL key lives in `EVPKey`, whose
/// documentation explains why concurrent use is safe, so the compiler can check `Sendable` here; the class
/// does not need `@unchecked`.
public final class SigningKey: Sendable {
    /// RSA modulus sizes accepted for signing keys.
    public static let allowedRSABits: Set<Int> = [2048, 3072]

    /// The only algorithm this key signs with.
    public let algorithm: JWSAlgorithm
    /// The RFC 7638 thumbprint of the public key, used as the JWS `kid`.
    public let kid: String
    /// The public key as a JWK, with `kid`, `alg` and `use: "sig"`; never contains private members.
    public let publicJWK: JWK
    /// The public half, for verifying this key's signatures.
    public let verificationKey: VerificationKey

    let key: EVPKey

    private init(key: EVPKey, algorithm: JWSAlgorithm) throws {
        switch (algorithm, key.kind) {
        case (.rs256, .rsa):
            guard Self.allowedRSABits.contains(key.bits) else { throw KeyError.unsupportedKeySize(key.bits) }
        case (.es256, .p256):
            break
        default:
            throw KeyError.keyTypeMismatch
        }
        let jwk = try VerificationKey.publicJWK(of: key, algorithm: algorithm, kid: nil)
        let kid = try jwk.thumbprint()
        self.key = key
        self.algorithm = algorithm
        self.kid = kid
        var published = jwk
        published.kid = kid
        self.publicJWK = published
        self.verificationKey = try VerificationKey(key: key, algorithm: algorithm, kid: kid, publicJWK: published)
    }

    /// Generates a new key: RSA for RS256 (`rsaBits` must be 2048 or 3072), P-256 for ES256 (`rsaBits` ignored).
    public static func generate(_ algorithm: JWSAlgorithm, rsaBits: Int = 2048) throws -> SigningKey {
        switch algorithm {
        case .rs256:
            guard allowedRSABits.contains(rsaBits) else { throw KeyError.unsupportedKeySize(rsaBits) }
            return try SigningKey(key: EVPKey.generateRSA(bits: rsaBits), algorithm: algorithm)
        case .es256:
            return try SigningKey(key: EVPKey.generateP256(), algorithm: algorithm)
        }
    }

    /// Loads a DER PKCS#8 private key; its type (and size or curve) must fit `algorithm`.
    ///
    /// The key's private and public parts are checked against each other before it is used.
    public convenience init(pkcs8DER: [UInt8], algorithm: JWSAlgorithm) throws {
        try self.init(key: EVPKey.fromPKCS8(pkcs8DER), algorithm: algorithm)
    }

    /// Loads a PEM `PRIVATE KEY` (PKCS#8, unencrypted); its type must fit `algorithm`.
    public convenience init(pem: String, algorithm: JWSAlgorithm) throws {
        try self.init(pkcs8DER: PEM.decode(pem, label: "PRIVATE KEY"), algorithm: algorithm)
    }

    /// The private key as DER PKCS#8, for encryption at rest. Treat the result as secret.
    public func pkcs8DER() throws -> [UInt8] {
        try key.pkcs8DER()
    }

    /// The private key as a PEM `PRIVATE KEY` block. Treat the result as secret.
    public func pkcs8PEM() throws -> String {
        PEM.encode(try key.pkcs8DER(), label: "PRIVATE KEY")
    }

    /// Signs `message` with SHA-256: PKCS#1 v1.5 for RS256, the 64-byte R || S for ES256 (RFC 7518 §3.4).
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        let signature = try key.sign(digest: SHA256.hash(message))
        switch algorithm {
        case .rs256:
            return signature
        case .es256:
            guard let raw = ECDSASignature.raw(fromDER: signature) else {
                throw OpenSSLError(operation: "EVP_PKEY_sign", reason: "unexpected ECDSA signature encoding")
            }
            return raw
        }
    }
}
