import JOSE
import Foundation

/// One party in a delegation chain (RFC 8693 §4.1 `act`): who acted, and for a party another
/// issuer vouched for, that issuer.
public struct ActorIdentity: Sendable, Hashable {
    public var subject: String
    /// The issuer that identified the actor; nil for parties this server identified itself.
    public var issuer: String?

    public init(subject: String, issuer: String? = nil) {
        self.subject = subject
        self.issuer = issuer
    }

    /// Bounds each member of an actor kept in a token.
    public static let maximumMemberLength = 255
}

/// A token an exchanged token was derived from (RFC 8693): what its revocation needs to know, so that
/// revoking any token of the chain, its client, its user or its session revokes what was derived from it.
public struct TokenAncestor: Sendable, Hashable {
    /// The ancestor's `jti` (nil for an ID token, which has none).
    public var jwtID: String?
    /// The client the ancestor was issued to.
    public var clientID: String
    /// The ancestor's `iat`, for the cut-offs of principal revocations.
    public var issuedAt: Int64

    public init(jwtID: String?, clientID: String, issuedAt: Int64) {
        self.jwtID = jwtID
        self.clientID = clientID
        self.issuedAt = issuedAt
    }
}

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
    /// The login session the token's grant began in (`sid`): ending the session revokes it.
    public var sessionID: String?
    /// The delegation chain (RFC 8693 §4.1 `act`): the current actor first, then prior actors.
    public var actors: [ActorIdentity]
    /// The tokens this one was exchanged from, the original first (`derived_from`): revoking any of
    /// them revokes this one.
    public var derivedFrom: [TokenAncestor]

    public init(issuer: String, subject: String, audience: [String], clientID: String, scope: Scope,
                issuedAt: Int64, expiresAt: Int64, jwtID: String, username: String? = nil, sessionID: String? = nil,
                actors: [ActorIdentity] = [], derivedFrom: [TokenAncestor] = []) {
        self.issuer = issuer
        self.subject = subject
        self.audience = audience
        self.clientID = clientID
        self.scope = scope
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.jwtID = jwtID
        self.username = username
        self.sessionID = sessionID
        self.actors = actors
        self.derivedFrom = derivedFrom
    }

    /// The `iat` of the first token of the chain (this one's when it was not exchanged).
    public var originalIssuedAt: Int64 { derivedFrom.first.map { min($0.issuedAt, issuedAt) } ?? issuedAt }

    /// The claims as a compact JSON object; `aud` is a string when there is one audience (RFC 7519 §4.1.3).
    /// - Parameter includeUsername: whether `username` is written (opaque tokens only).
    public func json(includeUsername: Bool = false) -> String {
        let audience = self.audience.count == 1
            ? JSONText.string(self.audience[0])
            : "[" + self.audience.map(JSONText.string).joined(separator: ",") + "]"
        var members = "{\"iss\":\(JSONText.string(issuer)),\"sub\":\(JSONText.string(subject)),\"aud\":\(audience),"
            + "\"exp\":\(expiresAt),\"iat\":\(issuedAt),\"jti\":\(JSONText.string(jwtID)),"
            + "\"client_id\":\(JSONText.string(clientID)),\"scope\":\(JSONText.string(scope.description))"
        if includeUsername, let username { members += ",\"username\":\(JSONText.string(username))" }
        if let sessionID { members += ",\"sid\":\(JSONText.string(sessionID))" }
        if let act = Self.actJSON(actors) { members += ",\"act\":" + act }
        if !derivedFrom.isEmpty {
            members += ",\"derived_from\":[" + derivedFrom.map { ancestor in
                "{" + (ancestor.jwtID.map { "\"jti\":\(JSONText.string($0))," } ?? "")
                    + "\"client_id\":\(JSONText.string(ancestor.clientID)),\"iat\":\(ancestor.issuedAt)}"
            }.joined(separator: ",") + "]"
        }
        return members + "}"
    }

    /// RFC 8693 §4.1: "A chain of delegation can be expressed by nesting one "act" claim within another.
    /// The outermost "act" claim represents the current actor while nested "act" claims represent prior
    /// actors." Nil for an empty chain.
    public static func actJSON(_ actors: [ActorIdentity]) -> String? {
        var nested: String?
        for actor in actors.reversed() {
            var object = "{\"sub\":\(JSONText.string(actor.subject))"
            if let issuer = actor.issuer { object += ",\"iss\":\(JSONText.string(issuer))" }
            if let inner = nested { object += ",\"act\":" + inner }
            nested = object + "}"
        }
        return nested
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
        var sessionID: String?
        if let sid = object["sid"] {
            guard let text = sid as? String else { return nil }
            sessionID = text
        }
        var actors: [ActorIdentity] = []
        if let act = object["act"] {
            guard let chain = parseActors(act) else { return nil }
            actors = chain
        }
        var derivedFrom: [TokenAncestor] = []
        if let lineage = object["derived_from"] {
            guard let entries = lineage as? [Any] else { return nil }
            for entry in entries {
                guard let ancestor = entry as? [String: Any], let client = ancestor["client_id"] as? String,
                      let issuedAt = (ancestor["iat"] as? NSNumber)?.int64Value else { return nil }
                let ancestorJTI = ancestor["jti"]
                guard ancestorJTI == nil || ancestorJTI is String else { return nil }
                derivedFrom.append(TokenAncestor(jwtID: ancestorJTI as? String, clientID: client, issuedAt: issuedAt))
            }
        }
        return AccessTokenClaims(issuer: issuer, subject: subject, audience: audience, clientID: clientID, scope: scope,
                                 issuedAt: iat, expiresAt: exp, jwtID: jti, username: object["username"] as? String,
                                 sessionID: sessionID, actors: actors, derivedFrom: derivedFrom)
    }

    /// Bounds the nesting of `act` read from a token.
    public static let maximumActorDepth = 8

    /// The chain of a (possibly nested) `act` object, the current actor first; nil when malformed or
    /// nested deeper than ``maximumActorDepth``.
    static func parseActors(_ value: Any) -> [ActorIdentity]? {
        var chain: [ActorIdentity] = []
        var current: Any? = value
        while let object = current {
            guard chain.count < maximumActorDepth, let members = object as? [String: Any], let subject = members["sub"] as? String else { return nil }
            let issuer = members["iss"]
            guard issuer == nil || issuer is String else { return nil }
            chain.append(ActorIdentity(subject: subject, issuer: issuer as? String))
            current = members["act"]
        }
        return chain
    }
}
