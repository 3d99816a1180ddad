import Foundation
import JOSE

/// Where a signing key is in its life: published ahead, signing, or published after.
public enum SigningKeyState: String, Sendable, Codable, CaseIterable {
    /// Published in the JWKS, not yet signing: relying parties learn it before it is used.
    case next
    /// Signs new tokens; exactly one per algorithm.
    case active
    /// No longer signs; still published until every token it signed has expired.
    case retired
}

/// A signing key as stored: its public half in the clear, its private half sealed
/// under the key-encryption key.
public struct SigningKeyRecord: Sendable, Equatable {
    public var kid: String
    public var algorithm: JWSAlgorithm
    public var state: SigningKeyState
    public var publicJWK: JWK
    /// AES-256-GCM sealed PKCS#8 private key (nonce ‖ ciphertext ‖ tag), the kid as AAD.
    public var sealedPrivateKey: [UInt8]
    /// Identifies the key-encryption key that sealed it, to report a wrong one clearly.
    public var kekID: String
    public var createdAt: Date
    public var activatedAt: Date?
    public var retiredAt: Date?
    /// When a retired key leaves the JWKS and the database.
    public var unpublishAfter: Date?

    public init(kid: String, algorithm: JWSAlgorithm, state: SigningKeyState, publicJWK: JWK, sealedPrivateKey: [UInt8],
                kekID: String, createdAt: Date, activatedAt: Date? = nil, retiredAt: Date? = nil, unpublishAfter: Date? = nil) {
        self.kid = kid
        self.algorithm = algorithm
        self.state = state
        self.publicJWK = publicJWK
        self.sealedPrivateKey = sealedPrivateKey
        self.kekID = kekID
        self.createdAt = createdAt
        self.activatedAt = activatedAt
        self.retiredAt = retiredAt
        self.unpublishAfter = unpublishAfter
    }
}
