import JOSE

/// Validates this server's own tokens presented in an exchange: access tokens (JWT or opaque) and
/// ID tokens, with their signature or seal, issuer, expiry, audience and revocation, all without a
/// database read (revocations come from the instance's in-memory set).
public struct LocalTokenValidator: ExchangeTokenValidator {
    public let verifier: AccessTokenVerifier
    public let revocations: any RevocationChecking
    /// Access tokens whose signature or seal was already checked.
    public let verified: VerifiedTokenCache

    public init(verifier: AccessTokenVerifier, revocations: any RevocationChecking, verified: VerifiedTokenCache = VerifiedTokenCache()) {
        self.verifier = verifier
        self.revocations = revocations
        self.verified = verified
    }

    public func validate(_ presented: PresentedToken, context: ExchangeContext) async throws -> ValidatedToken? {
        guard let checked = try check(presented, context: context) else { return nil }
        guard try await !revocations.isRevoked(checked.handle) else { throw presented.refused("revoked (jti \(checked.handle.jwtID))") }
        return checked.token
    }

    /// The same answer as ``validate(_:context:)`` without waiting, when it is a positive one that the
    /// revocation set in memory can give; nil otherwise (then `validate` answers, and reports refusals).
    public func validateImmediately(_ presented: PresentedToken, context: ExchangeContext) -> ValidatedToken? {
        guard let checked = try? check(presented, context: context), revocations.isRevokedImmediately(checked.handle) == false else { return nil }
        return checked.token
    }

    /// A token of this server checked in everything but revocation: nil when it is not one (another
    /// validator may know it). `handle` is what its revocation is asked with.
    private func check(_ presented: PresentedToken, context: ExchangeContext) throws -> (token: ValidatedToken, handle: AccessTokenClaims)? {
        let token = presented.token
        // An access token checked before needs no parsing either.
        let digest = VerifiedTokenCache.digest(token)
        if let known = verified.claims(digest: digest, now: context.now, publishedKeys: context.ring.publishedKeys) {
            return try accessToken(presented, context: context, digest: digest, keyID: nil, known: known)
        }
        if token.hasPrefix(OpaqueAccessToken.prefix) {
            return try accessToken(presented, context: context, digest: digest, keyID: nil)
        }
        // Only a JWT that says it is ours is checked here; its signature decides whether it is.
        guard let unverified = UnverifiedJWT(token), unverified.claims["iss"]?.stringValue == verifier.issuer else { return nil }
        if unverified.header["typ"]?.stringValue == JWTAccessToken.type || unverified.header["typ"]?.stringValue == "application/at+jwt" {
            // JWS.verify picks the key by kid alone, so the header's kid names the key that verifies it.
            return try accessToken(presented, context: context, digest: digest, keyID: unverified.header["kid"]?.stringValue)
        }
        return try idToken(presented, context: context)
    }

    /// An access token this server issued. As a subject it must have been issued to the exchanging
    /// client or be meant for a resource the client serves (an audience it may introspect: RFC 8693
    /// §2.1 leaves to the server "the appropriate policy" on who may exchange a token); as an actor it
    /// must be the client's own, so that no client can name another party as the actor with a token
    /// it merely obtained.
    private func accessToken(_ presented: PresentedToken, context: ExchangeContext, digest: [UInt8], keyID: String?, known: AccessTokenClaims? = nil) throws
        -> (token: ValidatedToken, handle: AccessTokenClaims) {
        let isOpaque = presented.token.hasPrefix(OpaqueAccessToken.prefix)
        guard presented.type == .accessToken || (presented.type == .jwt && !isOpaque) else {
            throw presented.refused("an access token presented as \(presented.type.rawValue)")
        }
        let claims: AccessTokenClaims
        if let known {
            claims = known
        } else {
            guard let checked = verifier.verify(presented.token, keys: context.ring.publishedKeys, now: context.now) else {
                throw presented.refused("signature, seal, issuer or expiry")
            }
            claims = checked
            // A JWT without a kid is not kept: nothing would tie it to the key that verified it.
            if isOpaque || keyID != nil { verified.insert(digest: digest, claims: claims, keyID: isOpaque ? nil : keyID, now: context.now) }
        }
        let client = context.client
        switch presented.role {
        case .subject:
            guard claims.clientID == client.id || claims.audience.contains(where: client.introspectableAudiences.contains) else {
                throw presented.refused("issued to \(claims.clientID) for \(claims.audience), not to or for \(client.id)")
            }
        case .actor:
            guard claims.clientID == client.id else { throw presented.refused("issued to \(claims.clientID), not \(client.id)") }
        }
        return (ValidatedToken(
            kind: .accessToken, subject: claims.subject, clientID: claims.clientID, scope: claims.scope, issuedAt: claims.issuedAt,
            expiresAt: claims.expiresAt, actors: claims.actors,
            lineage: claims.derivedFrom + [TokenAncestor(jwtID: claims.jwtID, clientID: claims.clientID, issuedAt: claims.issuedAt)],
            sessionID: claims.sessionID, username: claims.username), claims)
    }

    /// An ID token this server issued (OIDC Core §2), which must have been issued to the exchanging
    /// client: OIDC Core §3.1.3.7 "The Client MUST validate that the aud (audience) Claim contains its
    /// client_id value", and a token meant for one client is no credential for another. It is revoked
    /// with its user, its client and its login session.
    private func idToken(_ presented: PresentedToken, context: ExchangeContext) throws -> (token: ValidatedToken, handle: AccessTokenClaims) {
        guard presented.type == .idToken || presented.type == .jwt else {
            throw presented.refused("an ID token presented as \(presented.type.rawValue)")
        }
        guard let verified = try? JWS.verify(presented.token, keys: context.ring.publishedKeys) else { throw presented.refused("signature") }
        guard verified.header.typ == nil || verified.header.typ == "JWT",
              case .object(let claims)? = try? JSONValue(parsing: verified.payload) else { throw presented.refused("not an ID token") }
        // An access token carries client_id; an ID token carries auth_time.
        guard claims["iss"]?.stringValue == verifier.issuer, case .string(let subject)? = claims["sub"],
              claims["auth_time"] != nil, claims["client_id"] == nil, let audience = JWTClaims.audience(claims),
              let expiresAt = JWTClaims.numericDate(claims, "exp") ?? nil, let issuedAt = JWTClaims.numericDate(claims, "iat") ?? nil else {
            throw presented.refused("ID token claims")
        }
        guard expiresAt > context.now, issuedAt <= context.now + AccessTokenVerifier.clockSkew else { throw presented.refused("expired") }
        guard audience.contains(context.client.id) else { throw presented.refused("ID token for \(audience), not \(context.client.id)") }
        let party = claims["azp"]?.stringValue ?? audience[0]
        let sessionID = claims["sid"]?.stringValue
        let handle = AccessTokenClaims(issuer: verifier.issuer, subject: subject, audience: audience, clientID: party, scope: Scope([]),
                                       issuedAt: issuedAt, expiresAt: expiresAt, jwtID: "", sessionID: sessionID)
        return (ValidatedToken(kind: .idToken, subject: subject, clientID: party, scope: nil, issuedAt: issuedAt, expiresAt: expiresAt,
                               lineage: [TokenAncestor(jwtID: nil, clientID: party, issuedAt: issuedAt)], sessionID: sessionID), handle)
    }
}
