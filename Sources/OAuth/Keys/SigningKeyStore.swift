import Foundation

/// A change to the stored signing keys.
public enum SigningKeyChange: Sendable, Equatable {
    case insert(SigningKeyRecord)
    case activate(kid: String, at: Date)
    case retire(kid: String, at: Date, unpublishAfter: Date)
    case delete(kid: String)
}

/// Where signing keys are kept, shared by every instance.
public protocol SigningKeyStore: Sendable {
    /// Every stored key (next, active and retired).
    func keys() async throws -> [SigningKeyRecord]

    /// Reads the keys and applies the changes `decide` returns, atomically and under
    /// an exclusive lock held by one instance at a time; returns whether anything changed.
    /// Other instances are told of a change (and reload) once it is committed.
    @discardableResult
    func update(_ decide: @escaping @Sendable ([SigningKeyRecord]) throws -> [SigningKeyChange]) async throws -> Bool
}
