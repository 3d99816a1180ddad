import JOSE
import Foundation

/// What an access token says, whatever its format (RFC 9068 §2.2, RFC 7662 §2.2).
public struct AccessTokenClaims: Sendable, Equatable {
    public var issuer: String
    /// The resource owner, or the client itself for `client_credentials`.
    public var subject: String
    public var audience: [String]
    public var clientID: String
    public var scope: Scope
    /// Seconds since the epoch.
    public var issuedAt: Int64
    public var expiresAt: Int64
    /// Unique id: the handle for revocation and audit (never the token itself).
    public var jwtID: String
    /// The user's username, for introspection (RFC 7662 §2.2 `username`); carried only inside
    /// opaque tokens, where nobody but this server can read it.
    public var username: String?

    public init(issuer: String, subject: String, audience: [String], clientID: String, scope: Scope,
                issuedAt: Int64, expiresAt: Int64, jwtID: String, username: String? = nil) {
        self.issuer = issuer
        self.subject = subject
        self.audience = audience
        self.clientID = clientID
        self.scope = scope
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.jwtID = jwtID
        self.username = username
    }

    /// The claims as a compact JSON object; `aud` is a string when there is one audience (RFC 7519 §4.1.3).
    /// - Parameter includeUsername: whether `username` is written (opaque tokens only).
    public func json(includeUsername: Bool = false) -> String {
        let audience = self.audience.count == 1
            ? JSONText.string(self.audience[0])
            : "[" + self.audience.map(JSONText.string).joined(separator: ",") + "]"
        return "{\"iss\":\(JSONText.string(issuer)),\"sub\":\(JSONText.string(subject)),\"aud\":\(audience),"
            + "\"exp\":\(expiresAt),\"iat\":\(issuedAt),\"jti\":\(JSONText.string(jwtID)),"
            + "\"client_id\":\(JSONText.string(clientID)),\"scope\":\(JSONText.string(scope.description))"
            + (includeUsername ? username.map { ",\"username\":\(JSONText.string($0))" } ?? "" : "") + "}"
    }

    /// Reads claims written by ``json()``; nil when anything is missing or of the wrong type.
    public static func parse(json bytes: [UInt8]) -> AccessTokenClaims? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let issuer = object["iss"] as? String, let subject = object["sub"] as? String,
              let clientID = object["client_id"] as? String, let scopeText = object["scope"] as? String,
              let jti = object["jti"] as? String,
              let exp = (object["exp"] as? NSNumber)?.int64Value, let iat = (object["iat"] as? NSNumber)?.int64Value else {
            return nil
        }
        let audience: [String]
        if let single = object["aud"] as? String {
            audience = [single]
        } else if let many = object["aud"] as? [String] {
            audience = many
        } else {
            return nil
        }
        let scope = scopeText.isEmpty ? Scope([]) : (try? Scope(parsing: scopeText))
        guard let scope else { return nil }
        return AccessTokenClaims(issuer: issuer, subject: subject, audience: audience, clientID: clientID, scope: scope,
                                 issuedAt: iat, expiresAt: exp, jwtID: jti, username: object["username"] as? String)
    }
}
