/// A JWK Set (RFC 7517 §5), as published at the `jwks_uri`.
public struct JWKS: Codable, Sendable, Hashable {
    public var keys: [JWK]

    public init(keys: [JWK]) {
        self.keys = keys
    }
}
