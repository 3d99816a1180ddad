/// A public JSON Web Key (RFC 7517) for RS256 or ES256.
///
/// Only public members are modelled: decoding a JWK that carries private members (`d`, `p`, `q`, `dp`,
/// `dq`, `qi`, `k`) drops them, so they can never be exported again.
public struct JWK: Codable, Sendable, Hashable {
    public var kty: String
    public var kid: String?
    public var use: String?
    public var alg: String?
    /// RSA modulus (RFC 7518 §6.3.1.1), base64url.
    public var n: String?
    /// RSA public exponent (RFC 7518 §6.3.1.2), base64url.
    public var e: String?
    /// EC curve name (RFC 7518 §6.2.1.1).
    public var crv: String?
    /// EC x coordinate (RFC 7518 §6.2.1.2), base64url, exactly the coordinate size.
    public var x: String?
    /// EC y coordinate (RFC 7518 §6.2.1.3), base64url, exactly the coordinate size.
    public var y: String?

    public init(
        kty: String, kid: String? = nil, use: String? = nil, alg: String? = nil,
        n: String? = nil, e: String? = nil, crv: String? = nil, x: String? = nil, y: String? = nil
    ) {
        self.kty = kty
        self.kid = kid
        self.use = use
        self.alg = alg
        self.n = n
        self.e = e
        self.crv = crv
        self.x = x
        self.y = y
    }

    /// The RFC 7638 JWK thumbprint: base64url SHA-256 of the required members, in lexicographic order,
    /// with no whitespace (§3.2, §3.3).
    public func thumbprint() throws -> String {
        Base64URL.encode(SHA256.hash(Array(try thumbprintInput().utf8)))
    }

    /// The JSON text RFC 7638 §3 hashes.
    func thumbprintInput() throws -> String {
        switch kty {
        case "RSA":
            guard let e else { throw KeyError.invalidMember("e") }
            guard let n else { throw KeyError.invalidMember("n") }
            return JSONText.object([("e", e), ("kty", kty), ("n", n)])
        case "EC":
            guard let crv else { throw KeyError.invalidMember("crv") }
            guard let x else { throw KeyError.invalidMember("x") }
            guard let y else { throw KeyError.invalidMember("y") }
            return JSONText.object([("crv", crv), ("kty", kty), ("x", x), ("y", y)])
        default:
            throw KeyError.unsupportedKeyType(kty)
        }
    }
}
