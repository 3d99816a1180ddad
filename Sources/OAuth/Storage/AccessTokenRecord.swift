import Foundation

/// An access token by its handle: the `jti` and when it expires. Recorded with what issued it
/// (a code, a refresh-token family) so that revoking that revokes the token, and listed when
/// tokens are revoked so that the revoking instance knows them at once.
public struct AccessTokenRecord: Sendable, Equatable {
    public var jti: String
    public var expiresAt: Date
    public init(jti: String, expiresAt: Date) {
        self.jti = jti
        self.expiresAt = expiresAt
    }
}
