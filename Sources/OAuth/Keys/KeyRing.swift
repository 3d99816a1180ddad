import Foundation
import JOSE

/// The keys one instance uses at a moment: the signing key of each algorithm and
/// every published public key. Immutable; a reload builds a new ring.
public struct KeyRing: Sendable {
    public let signingKeys: [JWSAlgorithm: SigningKey]
    public let publishedKeys: [VerificationKey]
    public let jwks: JWKS
    /// Each published key's id, algorithm, state and creation time (for metrics).
    public let published: [(kid: String, algorithm: JWSAlgorithm, state: SigningKeyState, createdAt: Date)]

    public init(signingKeys: [JWSAlgorithm: SigningKey], publishedKeys: [VerificationKey], jwks: JWKS,
                published: [(kid: String, algorithm: JWSAlgorithm, state: SigningKeyState, createdAt: Date)] = []) {
        self.signingKeys = signingKeys
        self.publishedKeys = publishedKeys
        self.jwks = jwks
        self.published = published
    }

    public static let empty = KeyRing(signingKeys: [:], publishedKeys: [], jwks: JWKS(keys: []))

    /// The key that signs new tokens with `algorithm`, if there is one.
    public func signingKey(for algorithm: JWSAlgorithm) -> SigningKey? { signingKeys[algorithm] }
}
