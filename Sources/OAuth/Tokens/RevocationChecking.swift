/// Answers whether an access token is revoked, from what an instance holds in memory (the
/// revocation set kept current by the change feed) or, while that cannot be trusted, from storage.
public protocol RevocationChecking: Sendable {
    /// Whether the token these claims describe is revoked (see ``RevocationSet/isRevoked(_:)``).
    func isRevoked(_ claims: AccessTokenClaims) async throws -> Bool
    /// Whether the token is revoked, from memory without waiting; nil when that cannot be answered so.
    func isRevokedImmediately(_ claims: AccessTokenClaims) -> Bool?
}

extension RevocationChecking {
    /// Whether the token is revoked, answered from memory without waiting; nil when only
    /// ``isRevoked(_:)`` can answer (the set is not synchronised, or the checker keeps none).
    public func isRevokedImmediately(_ claims: AccessTokenClaims) -> Bool? { nil }
}
