/// Answers whether an access token is revoked, from what an instance holds in memory (the
/// revocation set kept current by the change feed) or, while that cannot be trusted, from storage.
public protocol RevocationChecking: Sendable {
    /// Whether the token these claims describe is revoked (see ``RevocationSet/isRevoked(_:)``).
    func isRevoked(_ claims: AccessTokenClaims) async throws -> Bool
}
