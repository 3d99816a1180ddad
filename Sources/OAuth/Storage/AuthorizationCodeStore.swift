import Foundation

/// One redemption of a code: the code, what the request presented, and what a success issues.
///
/// The checks are storage's to apply inside the redemption (so that a failed check consumes the
/// code in the same step), from values the grant prepared: the client, the redirect URI, and the
/// S256 challenge of the presented verifier.
public struct CodeRedemptionRequest: Sendable {
    public var codeDigest: [UInt8]
    public var clientID: String
    public var redirectURI: String
    /// `BASE64URL(SHA256(code_verifier))` (RFC 7636 §4.6); nil when the verifier is malformed, which never matches.
    public var verifierChallenge: String?
    /// The access token the redemption issues, recorded with the code so that a replay revokes it.
    public var accessToken: AccessTokenRecord
    /// The refresh-token family to start when the code's scope allows one (nil: the client gets no refresh tokens).
    public var refreshFamily: RefreshFamilyStart?

    public init(codeDigest: [UInt8], clientID: String, redirectURI: String, verifierChallenge: String?, accessToken: AccessTokenRecord,
                refreshFamily: RefreshFamilyStart?) {
        self.codeDigest = codeDigest
        self.clientID = clientID
        self.redirectURI = redirectURI
        self.verifierChallenge = verifierChallenge
        self.accessToken = accessToken
        self.refreshFamily = refreshFamily
    }
}

/// A refresh-token family a redemption may start: its id, its absolute end and its first token.
/// The family takes the code's user, scope, audiences, `auth_time` and session.
public struct RefreshFamilyStart: Sendable {
    public var id: UUID
    public var expiresAt: Date
    public var tokenDigest: [UInt8]
    /// The first token's idle expiry (never after the family's end).
    public var tokenExpiresAt: Date
    public init(id: UUID = UUID(), expiresAt: Date, tokenDigest: [UInt8], tokenExpiresAt: Date) {
        self.id = id
        self.expiresAt = expiresAt
        self.tokenDigest = tokenDigest
        self.tokenExpiresAt = tokenExpiresAt
    }

    /// Whether a code of `scope` starts a family (an OpenID code needs `offline_access`; see
    /// ``RefreshTokenGrant/isIssued(to:scope:)``).
    public static func applies(to scope: Scope) -> Bool {
        !scope.contains("openid") || scope.contains("offline_access")
    }
}

/// Authorization codes (RFC 6749 §4.1.2), kept by digest and redeemed at most once.
public protocol AuthorizationCodeStore: Sendable {
    /// Stores a new code under the digest of its value.
    func createCode(_ code: AuthorizationCode, digest: [UInt8]) async throws

    /// Redeems a code at most once, atomically: of concurrent redemptions exactly one sees it unredeemed.
    ///
    /// A failed check (RFC 6749 §4.1.3: the client and the redirect URI; RFC 7636 §4.6: the verifier)
    /// consumes the code all the same (`.rejected`). A success records what it issues in the same step,
    /// so that a later redemption revokes it (RFC 6749 §4.1.2: the server "SHOULD revoke (when
    /// possible) all tokens previously issued based on that authorization code"); that later
    /// redemption answers `.alreadyRedeemed` with the access tokens it revoked. A failure leaves
    /// nothing changed.
    func redeemCode(_ request: CodeRedemptionRequest) async throws -> CodeRedemption
}
