/// A public key that verifies JWS signatures of exactly one algorithm.
///
/// Thread safety: immutable; the OpenSSL key lives in `EVPKey` (see there), so `Sendable` is compiler-checked.
public final class VerificationKey: Sendable {
    /// RSA modulus sizes accepted for verification: the signing sizes, plus keys up to 4096 bits that
    /// clients may register for `private_key_jwt`.
    public static let allowedRSABits: ClosedRange<Int> = 2048...4096

    /// The only algorithm this key verifies.
    public let algorithm: JWSAlgorithm
    /// The key ID JWS headers must name: the JWK's `kid`, or its RFC 7638 thumbprint when it has none.
    public let kid: String
    /// The public key as a JWK with `kid`, `alg` and `use: "sig"`.
    public let publicJWK: JWK

    let key: EVPKey
    /// The headers `JWS.sign` writes for this key, prepared once.
    let headers: PrecomputedHeaders

    init(key: EVPKey, algorithm: JWSAlgorithm, kid: String, publicJWK: JWK) throws {
        self.key = key
        self.algorithm = algorithm
        self.kid = kid
        self.publicJWK = publicJWK
        self.headers = try PrecomputedHeaders(algorithm: algorithm, kid: kid)
    }

    /// Imports a public JWK for RS256 (`kty: RSA`) or ES256 (`kty: EC`, `crv: P-256`).
    ///
    /// `alg`, when present, must be the one algorithm the key type allows here; when absent it is inferred
    /// from `kty`. `use`, when present, must be `sig`. Private members in the JSON are ignored (`JWK` does
    /// not model them), so they are never exported. Symmetric (`oct`) keys are refused.
    public convenience init(jwk: JWK) throws {
        if let use = jwk.use, use != "sig" { throw KeyError.invalidMember("use") }
        let algorithm: JWSAlgorithm
        let key: EVPKey
        switch jwk.kty {
        case "RSA":
            algorithm = .rs256
            if let alg = jwk.alg, alg != algorithm.rawValue { throw KeyError.algorithmMismatch(alg) }
            let n = try Self.unsignedInteger(jwk.n, member: "n")
            let e = try Self.unsignedInteger(jwk.e, member: "e")
            guard Self.allowedRSABits.contains(n.count * 8) else { throw KeyError.unsupportedKeySize(n.count * 8) }
            key = try EVPKey.fromRSAPublic(n: n, e: e)
            guard Self.allowedRSABits.contains(key.bits) else { throw KeyError.unsupportedKeySize(key.bits) }
        case "EC":
            algorithm = .es256
            guard let crv = jwk.crv else { throw KeyError.invalidMember("crv") }
            guard crv == "P-256" else { throw KeyError.unsupportedCurve(crv) }
            if let alg = jwk.alg, alg != algorithm.rawValue { throw KeyError.algorithmMismatch(alg) }
            let x = try Self.coordinate(jwk.x, member: "x")
            let y = try Self.coordinate(jwk.y, member: "y")
            key = try EVPKey.fromP256Public(x: x, y: y)
        default:
            throw KeyError.unsupportedKeyType(jwk.kty)
        }
        var published = try Self.publicJWK(of: key, algorithm: algorithm, kid: nil)
        let kid = try jwk.kid ?? published.thumbprint()
        published.kid = kid
        try self.init(key: key, algorithm: algorithm, kid: kid, publicJWK: published)
    }

    /// RFC 7518 §2 Base64urlUInt: "The octet sequence MUST utilize the minimum number of octets needed to
    /// represent the value", so a leading zero octet (or an empty value) is refused.
    private static func unsignedInteger(_ member: String?, member name: String) throws -> [UInt8] {
        guard let member, let bytes = Base64URL.decode(member), let first = bytes.first, first != 0 else {
            throw KeyError.invalidMember(name)
        }
        return bytes
    }

    /// RFC 7518 §6.2.1.2: "The length of this octet string MUST be the full size of a coordinate for the curve
    /// specified in the "crv" parameter", 32 octets for P-256; the value must also be below the field prime.
    private static func coordinate(_ member: String?, member name: String) throws -> [UInt8] {
        guard let member, let bytes = Base64URL.decode(member), bytes.count == ECDSASignature.scalarLength,
              bytes.withUnsafeBufferPointer({ ECDSASignature.isLess($0, than: ECDSASignature.p256Prime) }) else {
            throw KeyError.invalidMember(name)
        }
        return bytes
    }

    /// The public JWK (`kty`, `use`, `alg` and the key members) of `key`.
    static func publicJWK(of key: EVPKey, algorithm: JWSAlgorithm, kid: String?) throws -> JWK {
        switch try key.publicComponents() {
        case .rsa(let n, let e):
            return JWK(kty: "RSA", kid: kid, use: "sig", alg: algorithm.rawValue,
                       n: Base64URL.encode(n), e: Base64URL.encode(e))
        case .p256(let x, let y):
            return JWK(kty: "EC", kid: kid, use: "sig", alg: algorithm.rawValue,
                       crv: "P-256", x: Base64URL.encode(x), y: Base64URL.encode(y))
        }
    }

    /// Whether `signature` is this key's signature of `message` under its algorithm.
    ///
    /// ES256 signatures must be the 64-byte R || S of RFC 7518 §3.4 (DER is refused) with R and S in
    /// 1…n−1; RS256 signatures must be exactly the modulus length (RFC 8017 §8.2.2 step 1).
    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        message.withUnsafeBytes { verify(signature: signature, message: $0) }
    }

    func verify(signature: [UInt8], message: UnsafeRawBufferPointer) -> Bool {
        let encoded: [UInt8]
        switch algorithm {
        case .rs256:
            guard signature.count == (key.bits + 7) / 8 else { return false }
            encoded = signature
        case .es256:
            // FIPS 186-4 §6.4.2 step 1: reject the signature unless 0 < r < n and 0 < s < n.
            guard let der = ECDSASignature.der(fromRaw: signature) else { return false }
            encoded = der
        }
        return key.verify(signature: encoded, digest: SHA256.hash(message))
    }
}
