import JOSE

/// A compact JWS read without checking its signature: only to choose which issuer's keys will then
/// verify it. Nothing read here may be trusted.
struct UnverifiedJWT {
    let header: [String: JSONValue]
    let claims: [String: JSONValue]

    /// The header and claims of a compact JWS whose parts decode to JSON objects; nil otherwise.
    init?(_ token: String) {
        guard token.utf8.count <= JWS.maximumCompactLength else { return nil }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(String(parts[0])), let payload = Base64URL.decode(String(parts[1])),
              case .object(let header)? = try? JSONValue(parsing: headerBytes),
              case .object(let claims)? = try? JSONValue(parsing: payload) else { return nil }
        self.header = header
        self.claims = claims
    }
}

/// Reading the registered claims of a verified JWT claims set (RFC 7519 §4.1).
enum JWTClaims {
    /// A NumericDate claim (RFC 7519 §2): seconds since the epoch; nil when absent, a failure when not a number.
    static func numericDate(_ claims: [String: JSONValue], _ name: String) -> Int64?? {
        guard let value = claims[name] else { return .some(nil) }
        guard case .number(let seconds) = value, seconds.isFinite, abs(seconds) < 1e15 else { return nil }
        return .some(Int64(seconds.rounded(.down)))
    }

    /// `aud` as a list (RFC 7519 §4.1.3: a string or an array of strings); nil when absent or malformed.
    static func audience(_ claims: [String: JSONValue]) -> [String]? {
        switch claims["aud"] {
        case .string(let single)?: return [single]
        case .array(let many)?:
            let strings = many.compactMap(\.stringValue)
            return strings.count == many.count ? strings : nil
        default: return nil
        }
    }

    /// The chain of a (possibly nested) `act` claim (RFC 8693 §4.1), the current actor first; nil when
    /// malformed, when a member is longer than ``ActorIdentity/maximumMemberLength``, or nested deeper
    /// than ``AccessTokenClaims/maximumActorDepth``.
    static func actors(_ value: JSONValue) -> [ActorIdentity]? {
        var chain: [ActorIdentity] = []
        var current: JSONValue? = value
        while let next = current {
            guard chain.count < AccessTokenClaims.maximumActorDepth, let actor = identity(next) else { return nil }
            chain.append(actor)
            guard case .object(let members) = next else { return nil }
            current = members["act"]
        }
        return chain
    }

    /// The party a `may_act` or `act` object names (RFC 8693 §4.4: "the combination of the two claims
    /// "iss" and "sub" are sometimes necessary to uniquely identify an authorized actor").
    static func identity(_ value: JSONValue) -> ActorIdentity? {
        guard case .object(let members) = value, case .string(let subject)? = members["sub"], !subject.isEmpty,
              subject.utf8.count <= ActorIdentity.maximumMemberLength else { return nil }
        switch members["iss"] {
        case nil: return ActorIdentity(subject: subject)
        case .string(let issuer)? where !issuer.isEmpty && issuer.utf8.count <= ActorIdentity.maximumMemberLength:
            return ActorIdentity(subject: subject, issuer: issuer)
        default: return nil
        }
    }
}
