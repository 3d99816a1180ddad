import Foundation
import JOSE

/// An access token as the token endpoint returns it (RFC 6749 §5.1).
public struct IssuedAccessToken: Sendable {
    public let token: String
    public let claims: AccessTokenClaims
    public var expiresIn: Int64 { claims.expiresAt - claims.issuedAt }

    /// The successful response body (RFC 6749 §5.1); `scope` is always included.
    /// - Parameters:
    ///   - refreshToken: the refresh token issued with it, if any.
    ///   - idToken: the OIDC ID token issued with it, if any.
    public func responseJSON(refreshToken: String? = nil, idToken: String? = nil) -> String {
        "{\"access_token\":\(JSONText.string(token)),\"token_type\":\"Bearer\",\"expires_in\":\(expiresIn),"
            + "\"scope\":\(JSONText.string(claims.scope.description))"
            + (refreshToken.map { ",\"refresh_token\":\(JSONText.string($0))" } ?? "")
            + (idToken.map { ",\"id_token\":\(JSONText.string($0))" } ?? "") + "}"
    }
}

/// Mints access tokens in the client's format: RFC 9068 JWTs signed with the active key
/// of the client's algorithm, or opaque tokens sealed under the current opaque-token key.
public struct AccessTokenIssuer: Sendable {
    public let issuer: String
    /// Used when the client has no lifetime of its own (`TESSERA_ACCESS_TOKEN_TTL`).
    public let defaultLifetime: Int64
    public let opaqueKeys: OpaqueTokenKeyring

    public init(issuer: String, defaultLifetime: Int64, opaqueKeys: OpaqueTokenKeyring) {
        self.issuer = issuer
        self.defaultLifetime = defaultLifetime
        self.opaqueKeys = opaqueKeys
    }

    /// The longest lifetime an access token can have (the bound of the server setting and of every
    /// client's), in seconds.
    public static let maximumLifetime: Int64 = 86_400

    /// The lifetime of `client`'s access tokens in seconds.
    public func lifetime(for client: Client) -> Int64 {
        client.accessTokenLifetime.map { Int64($0) } ?? defaultLifetime
    }

    /// A new random token id.
    public static func newJWTID() -> String { Base64URL.encode(SecureRandom.bytes(16)) }

    /// - Parameter jwtID: the token's `jti`, when the caller had to know it before issuing
    ///   (to record it atomically with what the token is issued for); else a random one.
    /// - Parameter username: the user's username, sealed into opaque tokens for introspection.
    public func issue(client: Client, subject: String, scope: Scope, audience: [String], ring: KeyRing, now: Date,
                      jwtID: String? = nil, username: String? = nil) throws -> IssuedAccessToken {
        let issuedAt = Int64(now.timeIntervalSince1970.rounded(.down))
        let claims = AccessTokenClaims(
            issuer: issuer, subject: subject, audience: audience, clientID: client.id, scope: scope,
            issuedAt: issuedAt, expiresAt: issuedAt + lifetime(for: client), jwtID: jwtID ?? Self.newJWTID(), username: username)
        switch client.accessTokenFormat {
        case .jwt:
            guard let key = ring.signingKey(for: client.signingAlgorithm) else {
                throw OAuthError(.temporarilyUnavailable, "No signing key is available yet; try again shortly.",
                                 detail: "no active \(client.signingAlgorithm.rawValue) key")
            }
            return IssuedAccessToken(token: try JWTAccessToken.sign(claims, key: key), claims: claims)
        case .opaque:
            return IssuedAccessToken(token: try opaqueKeys.seal(claims), claims: claims)
        }
    }
}
