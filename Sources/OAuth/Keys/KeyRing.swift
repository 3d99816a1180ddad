import Foundation
import JOSE

/// The keys one instance uses at a moment: the signing key of each algorithm and
/// every published public key. Immutable; a reload builds a new ring.
public struct KeyRing: Sendable {
    public let signingKeys: [JWSAlgorithm: SigningKey]
    public let publishedKeys: [VerificationKey]
    public let jwks: JWKS

    public init(signingKeys: [JWSAlgorithm: SigningKey], publishedKeys: [VerificationKey], jwks: JWKS) {
        self.signingKeys = signingKeys
        self.publishedKeys = publishedKeys
        self.jwks = jwks
    }

    public static let empty = KeyRing(signingKeys: [:], publishedKeys: [], jwks: JWKS(keys: []))

    /// The key that signs new tokens with `algorithm`, if there is one.
    public func signingKey(for algorithm: JWSAlgorithm) -> SigningKey? { signingKeys[algorithm] }
}
