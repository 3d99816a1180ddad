import Foundation

/// What redeeming a code issues, decided from the code inside the redeeming transaction.
public struct CodeRedemptionPlan: Sendable {
    public var accessToken: AccessTokenRecord
    /// The refresh-token family to start, if the grant includes a refresh token.
    public var refreshFamily: NewRefreshFamily?
    public init(accessToken: AccessTokenRecord, refreshFamily: NewRefreshFamily?) {
        self.accessToken = accessToken
        self.refreshFamily = refreshFamily
    }
}

/// Authorization codes (RFC 6749 §4.1.2), kept by digest and redeemed at most once.
public protocol AuthorizationCodeStore: Sendable {
    /// Stores a new code under the digest of its value.
    func createCode(_ code: AuthorizationCode, digest: [UInt8]) async throws

    /// Redeems a code at most once, atomically: of concurrent redemptions exactly one sees it unredeemed.
    ///
    /// `plan` checks the code against the request; when it refuses, the code is consumed all the same
    /// (`.rejected`). When it accepts, what will be issued is recorded in the same transaction, so that
    /// a later redemption revokes it (RFC 6749 §4.1.2: the server "SHOULD revoke (when possible) all
    /// tokens previously issued based on that authorization code"); that later redemption answers
    /// `.alreadyRedeemed` with the access tokens it revoked. A failure leaves nothing changed.
    func redeemCode(digest: [UInt8], plan: @escaping @Sendable (AuthorizationCode) -> Result<CodeRedemptionPlan, OAuthError>) async throws
        -> CodeRedemption
}
