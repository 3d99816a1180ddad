import Foundation
import JOSE

/// Token revocation (RFC 7009): a client revokes one of its tokens.
///
/// A refresh token revokes its whole family (and the access tokens issued from it); an access token
/// is revoked alone, by its `jti`, until it would have expired. An unknown, expired or malformed
/// token needs nothing (RFC 7009 §2.2: "invalid tokens do not cause an error response"); another
/// client's token is refused and left as it is.
public struct TokenRevocation: Sendable {
    public let refreshTokens: any RefreshTokenStore
    public let revocations: any RevocationStore
    public let verifier: AccessTokenVerifier
    public let observer: any GrantObserver
    public let clock: @Sendable () -> Date

    /// What a revocation did.
    public enum Outcome: Sendable, Equatable {
        case familyRevoked(UUID)
        case accessTokenRevoked(jti: String)
        /// The token was unknown, expired or not this server's: nothing to do.
        case nothing
    }

    public init(refreshTokens: any RefreshTokenStore, revocations: any RevocationStore, verifier: AccessTokenVerifier,
                observer: any GrantObserver, clock: @escaping @Sendable () -> Date = Date.init) {
        self.refreshTokens = refreshTokens
        self.revocations = revocations
        self.verifier = verifier
        self.observer = observer
        self.clock = clock
    }

    /// Revokes `token` for `client`. RFC 7009 §2.1: the hint only speeds up the lookup ("If the server
    /// is unable to locate the token using the given hint, it MUST extend its search across all of its
    /// supported token types"), so the token's own form decides.
    public func revoke(_ token: String, client: Client, keys: [VerificationKey]) async throws -> Outcome {
        if RefreshTokenGrant.isWellFormed(token) {
            guard let family = try await refreshTokens.family(tokenDigest: TokenDigest.of(token)) else { return .nothing }
            try Self.checkOwner(family.clientID, client)
            observer.revoked(try await refreshTokens.revoke(familyID: family.id, reason: "revoked by the client"))
            return .familyRevoked(family.id)
        }
        // An expired or foreign token needs nothing: it is not valid anywhere.
        guard let claims = verifier.verify(token, keys: keys, now: Int64(clock().timeIntervalSince1970)) else { return .nothing }
        try Self.checkOwner(claims.clientID, client)
        let expiresAt = Date(timeIntervalSince1970: TimeInterval(claims.expiresAt))
        try await revocations.revokeAccessToken(jti: claims.jwtID, expiresAt: expiresAt, reason: "revoked by the client")
        observer.revoked([AccessTokenRecord(jti: claims.jwtID, expiresAt: expiresAt)])
        return .accessTokenRevoked(jti: claims.jwtID)
    }

    /// RFC 7009 §2.1: the server "verifies whether the token was issued to the client making the
    /// revocation request. If this validation fails, the request is refused".
    static func checkOwner(_ owner: String, _ client: Client) throws(OAuthError) {
        guard owner == client.id else {
            throw OAuthError(.unauthorizedClient, "The token was not issued to this client.", detail: "token of \(owner) presented by \(client.id)")
        }
    }
}
