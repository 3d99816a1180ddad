import JOSE

/// Validates JWTs of trusted external issuers presented in an exchange (a company's existing identity
/// provider, say): the signature with the issuer's keys, `iss`, `exp`, `nbf`, `iat`, and an `aud` the
/// registration names (RFC 8725 §3.8, §3.9). Their scope (`scope` or `scp`), delegation chain (`act`)
/// and `may_act` are read; they cannot be revoked here, so their own expiry bounds what is issued.
public struct ExternalTokenValidator: ExchangeTokenValidator {
    public let directory: any TrustedIssuerDirectory
    /// Allowed difference between the issuer's clock and ours, for `nbf` and `iat`.
    public let clockSkew: Int64

    public init(directory: any TrustedIssuerDirectory, clockSkew: Int64 = 60) {
        self.directory = directory
        self.clockSkew = clockSkew
    }

    /// Typed JWTs of other kinds (logout tokens, DPoP proofs…) are never accepted as credentials
    /// (RFC 8725 §3.11 explicit typing); untyped JWTs, access tokens and ID tokens are.
    static let acceptedTypes: Set<String> = ["JWT", "jwt", "at+jwt", "application/at+jwt"]

    public func validate(_ presented: PresentedToken, context: ExchangeContext) async throws -> ValidatedToken? {
        guard !presented.token.hasPrefix(OpaqueAccessToken.prefix), let unverified = UnverifiedJWT(presented.token),
              case .string(let issuerName)? = unverified.claims["iss"],
              let trusted = try await directory.trustedIssuer(issuerName, keyID: unverified.header["kid"]?.stringValue) else { return nil }
        guard [.jwt, .accessToken, .idToken].contains(presented.type) else {
            throw presented.refused("a JWT of \(issuerName) presented as \(presented.type.rawValue)")
        }
        let verified: VerifiedJWS
        do { verified = try JWS.verify(presented.token, keys: trusted.keys) } catch { throw presented.refused("\(issuerName): \(error)") }
        if let type = verified.header.typ, !Self.acceptedTypes.contains(type) { throw presented.refused("typ \(type.prefix(32))") }
        // RFC 7519 §4: duplicate claim names are refused by the strict parser.
        guard case .object(let claims)? = try? JSONValue(parsing: verified.payload) else { throw presented.refused("claims are not a JSON object") }
        guard claims["iss"]?.stringValue == trusted.issuer else { throw presented.refused("iss") }
        guard case .string(let subject)? = claims["sub"], !subject.isEmpty, subject.utf8.count <= ActorIdentity.maximumMemberLength else {
            throw presented.refused("sub missing or longer than \(ActorIdentity.maximumMemberLength) bytes")
        }
        // RFC 7519 §4.1.4: the JWT "MUST NOT be accepted for processing" on or after exp; a token without
        // exp would never expire, and what is issued from it must end when it does.
        guard let expiresAt = JWTClaims.numericDate(claims, "exp") ?? nil else { throw presented.refused("exp missing or not a NumericDate") }
        guard expiresAt > context.now else { throw presented.refused("expired") }
        guard let notBefore = JWTClaims.numericDate(claims, "nbf"), let issuedAt = JWTClaims.numericDate(claims, "iat") else {
            throw presented.refused("nbf or iat not a NumericDate")
        }
        if let notBefore, notBefore > context.now + clockSkew { throw presented.refused("nbf in the future") }
        if let issuedAt, issuedAt > context.now + clockSkew { throw presented.refused("iat in the future") }
        guard let audience = JWTClaims.audience(claims), audience.contains(where: trusted.audiences.contains) else {
            throw presented.refused("aud names none of \(trusted.issuer)'s registered audiences")
        }
        var scope: Scope?
        switch (claims["scope"], claims["scp"]) {
        case (nil, nil): scope = nil
        case (.string(let text)?, _):
            guard let parsed = try? Scope(parsing: text) else { throw presented.refused("scope malformed") }
            scope = parsed
        case (nil, .string(let text)?):
            guard let parsed = try? Scope(parsing: text) else { throw presented.refused("scp malformed") }
            scope = parsed
        case (nil, .array(let items)?):
            let tokens = items.compactMap(\.stringValue)
            guard tokens.count == items.count, let parsed = try? Scope(parsing: tokens.joined(separator: " ")) else { throw presented.refused("scp malformed") }
            scope = parsed
        default: throw presented.refused("scope is not a string")
        }
        var actors: [ActorIdentity] = []
        if let act = claims["act"] {
            guard let chain = JWTClaims.actors(act) else { throw presented.refused("act malformed or nested too deeply") }
            actors = chain
        }
        var mayAct: ActorIdentity?
        if let value = claims["may_act"] {
            guard let party = JWTClaims.identity(value) else { throw presented.refused("may_act malformed") }
            mayAct = party
        }
        return ValidatedToken(kind: .external, subject: subject, issuer: trusted.issuer, scope: scope, issuedAt: issuedAt ?? context.now,
                              expiresAt: expiresAt, actors: actors, mayAct: mayAct, subjectPrefix: trusted.subjectPrefix)
    }
}
