import Foundation
import JOSE
import OAuth
import Synchronization

/// Signing keys for tests: one RS256 and one ES256 key, made once per process.
public enum TestKeys {
    public static let rsa: SigningKey? = try? SigningKey.generate(.rs256)
    public static let ec: SigningKey? = try? SigningKey.generate(.es256)

    /// A ring with both keys signing and published.
    public static func ring() throws -> KeyRing {
        guard let rsa, let ec else { throw KeyGenerationFailed() }
        return KeyRing(signingKeys: [.rs256: rsa, .es256: ec], publishedKeys: [rsa.verificationKey, ec.verificationKey],
                       jwks: JWKS(keys: [rsa.publicJWK, ec.publicJWK]))
    }

    public struct KeyGenerationFailed: Error {}

    /// A key-encryption key of fixed bytes.
    public static func kek() throws -> KeyEncryptionKey { try KeyEncryptionKey(bytes: Array(repeating: 7, count: 32)) }
}

/// A ``GrantObserver`` that remembers what it was told.
public final class RecordingGrantObserver: GrantObserver {
    public enum Event: Equatable, Sendable {
        case revoked([AccessTokenRecord])
        case codeReplayed(String)
        case refreshTokenReused(String, UUID)
        case refreshGraceRetry(String, UUID)
    }

    private let recorded = Mutex<[Event]>([])

    public init() {}

    public var events: [Event] { recorded.withLock { $0 } }

    public func revoked(_ tokens: [AccessTokenRecord]) { recorded.withLock { $0.append(.revoked(tokens)) } }
    public func codeReplayed(clientID: String) { recorded.withLock { $0.append(.codeReplayed(clientID)) } }
    public func refreshTokenReused(clientID: String, familyID: UUID) { recorded.withLock { $0.append(.refreshTokenReused(clientID, familyID)) } }
    public func refreshGraceRetry(clientID: String, familyID: UUID) { recorded.withLock { $0.append(.refreshGraceRetry(clientID, familyID)) } }
}
