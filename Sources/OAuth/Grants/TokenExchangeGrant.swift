import Foundation

/// What a token exchange issued, and from what: for the response, the audit log and metrics.
public struct TokenExchangeResult: Sendable {
    public let response: TokenResponse
    public let subject: ValidatedToken
    public let actor: ValidatedToken?
    public let issuedTokenType: TokenTypeIdentifier
    /// How many exchanges lie behind the issued token (1: it was exchanged from an original token).
    public let depth: Int
}

/// The token-exchange grant (RFC 8693 §2): a client swaps a token it holds (the subject token, and
/// for delegation an actor token) for a narrower access token for another audience.
///
/// The issued token keeps the subject's `sub`, carries `act` when an actor is named (nested after the
/// subject token's own chain, §4.1), names the exchanging client as `client_id` (§4.3), and has a
/// scope, audience and lifetime no wider than the subject token's and the client's policy allow. It
/// belongs to the subject token's grant: it names the tokens it was exchanged from and their login
/// session, so that whatever revokes them revokes it (``RevocationSet/isRevoked(_:)``). No refresh
/// token is issued. Nothing is stored: exchanges need no database round trip.
public struct TokenExchangeGrant: Sendable {
    public let minter: TokenMinter
    /// Tried in order; the first that recognises a token decides (this server's own tokens first).
    public let validators: [any ExchangeTokenValidator]
    public let clock: @Sendable () -> Date

    public init(minter: TokenMinter, validators: [any ExchangeTokenValidator], clock: @escaping @Sendable () -> Date = Date.init) {
        self.minter = minter
        self.validators = validators
        self.clock = clock
    }

    /// The `error_description` of every refused subject token: it tells nothing of which check failed.
    public static let subjectFailureDescription = "The subject_token is invalid, expired, revoked, or not acceptable here."
    public static let actorFailureDescription = "The actor_token is invalid, expired, revoked, or not acceptable here."
    /// Bounds a presented token before anything parses it (opaque tokens and JWTs are a few kilobytes).
    public static let maximumTokenLength = 16 * 1024

    public func exchange(_ form: TokenRequest, client: Client, ring: KeyRing) async throws -> TokenExchangeResult {
        let request = try ExchangeRequest(form, client: client)
        let now = clock()
        let context = ExchangeContext(client: client, ring: ring, now: Int64(now.timeIntervalSince1970.rounded(.down)))
        let subject = try await validate(request.subject, context: context)
        var actor: ValidatedToken?
        if let presented = request.actor { actor = try await validate(presented, context: context) }
        return try issue(request, subject: subject, actor: actor, context: context, now: now)
    }

    /// The exchange answered without waiting (on the event-loop thread), for a request whose tokens
    /// `validate` can check from memory (this server's own, with a synchronised revocation set); nil
    /// for anything else, refusals included: ``exchange(_:client:ring:)`` then answers the same, and
    /// reports what is wrong.
    public func exchangeImmediately(_ form: TokenRequest, client: Client, ring: KeyRing,
                                    validate: (PresentedToken, ExchangeContext) -> ValidatedToken?) -> TokenExchangeResult? {
        guard let request = try? ExchangeRequest(form, client: client) else { return nil }
        let now = clock()
        let context = ExchangeContext(client: client, ring: ring, now: Int64(now.timeIntervalSince1970.rounded(.down)))
        guard request.subject.token.utf8.count <= Self.maximumTokenLength, let subject = validate(request.subject, context) else { return nil }
        var actor: ValidatedToken?
        if let presented = request.actor {
            guard presented.token.utf8.count <= Self.maximumTokenLength, let validated = validate(presented, context) else { return nil }
            actor = validated
        }
        return try? issue(request, subject: subject, actor: actor, context: context, now: now)
    }

    /// The parameters of an exchange (RFC 8693 §2.1), checked before any token is.
    struct ExchangeRequest {
        let subject: PresentedToken
        let actor: PresentedToken?
        let issuedType: TokenTypeIdentifier
        let requestedScope: Scope?
        let audiences: [String]

        init(_ form: TokenRequest, client: Client) throws {
            // RFC 8693 §2.1: subject_token and subject_token_type are REQUIRED.
            guard let subjectToken = form["subject_token"] else { throw OAuthError.invalidRequest("The subject_token parameter is missing.") }
            guard let subjectType = try TokenExchangeGrant.tokenType(form["subject_token_type"], parameter: "subject_token_type") else {
                throw OAuthError.invalidRequest("The subject_token_type parameter is missing.")
            }
            // RFC 8693 §2.1 actor_token_type: "REQUIRED when the actor_token parameter is present in the request
            // but MUST NOT be included otherwise."
            let actorType = try TokenExchangeGrant.tokenType(form["actor_token_type"], parameter: "actor_token_type")
            guard (form["actor_token"] == nil) == (actorType == nil) else {
                throw OAuthError.invalidRequest(form["actor_token"] == nil
                    ? "The actor_token_type parameter must not be sent without an actor_token."
                    : "The actor_token_type parameter is missing.")
            }
            issuedType = try TokenExchangeGrant.issuedType(requested: form["requested_token_type"])
            requestedScope = try form["scope"].map { text throws(OAuthError) in try Scope(parsing: text) }
            audiences = try TokenExchangeGrant.audiences(resources: form.resources, audiences: form.audiences, policy: client.exchange, clientID: client.id)
            // RFC 8693 §1.1: without an actor the client impersonates the subject; a client registered to
            // delegate only must name who acts.
            guard form["actor_token"] != nil || client.exchange.allowsImpersonation else {
                throw OAuthError.invalidRequest("This client may only delegate: an actor_token is required.",
                                                detail: "client \(client.id) may not impersonate")
            }
            subject = PresentedToken(token: subjectToken, type: subjectType, role: .subject)
            if let actorToken = form["actor_token"], let actorType {
                actor = PresentedToken(token: actorToken, type: actorType, role: .actor)
            } else {
                actor = nil
            }
        }
    }

    /// Checks the validated tokens against each other and the client's policy, and issues the token.
    private func issue(_ request: ExchangeRequest, subject: ValidatedToken, actor: ValidatedToken?, context: ExchangeContext, now: Date) throws
        -> TokenExchangeResult {
        let client = context.client
        try Self.checkMayAct(subject: subject, actor: actor, client: client, issuer: minter.accessTokens.issuer)
        // A delegated token exchanged by impersonation would lose its chain: whoever acted would vanish.
        guard actor != nil || subject.actors.isEmpty else {
            throw OAuthError.invalidRequest("A delegated subject_token can only be exchanged with an actor_token.",
                                            detail: "impersonation of a token acted on by \(subject.actors[0].subject)")
        }
        let depth = subject.exchangeDepth + 1
        guard depth <= client.exchange.maximumDepth else {
            throw OAuthError.invalidRequest("The chain of exchanges behind the subject_token is too long for this client.",
                                            detail: "depth \(depth) over the client's \(client.exchange.maximumDepth)")
        }
        let scope = try Self.scope(requested: request.requestedScope, subject: subject, client: client)
        let issuedSubject = try Self.issuedSubject(subject, client: client)
        // The issued token ends no later than the subject token: it cannot outlive what it stands for.
        guard subject.expiresAt > context.now else { throw OAuthError(.invalidRequest, Self.subjectFailureDescription, detail: "subject token expired") }
        var actors = subject.actors
        if let actor { actors.insert(actor.actorIdentity, at: 0) }
        let lineage = TokenLineage(sessionID: subject.sessionID, actors: actors, derivedFrom: subject.lineage, notAfter: subject.expiresAt,
                                   format: request.issuedType == .jwt ? .jwt : nil)
        let issued = try minter.accessTokens.issue(client: client, subject: issuedSubject, scope: scope, audience: request.audiences, ring: context.ring,
                                                   now: now, username: subject.username, lineage: lineage)
        // RFC 8693 §2.2.1 refresh_token: a refresh token is not issued (the exchanged token lives and dies with its subject token).
        let response = TokenResponse(accessToken: issued, issuedTokenType: request.issuedType.rawValue)
        return TokenExchangeResult(response: response, subject: subject, actor: actor, issuedTokenType: request.issuedType, depth: depth)
    }

    /// The first validator that recognises the token decides; a token none recognises is refused.
    private func validate(_ presented: PresentedToken, context: ExchangeContext) async throws -> ValidatedToken {
        guard presented.token.utf8.count <= Self.maximumTokenLength else { throw presented.refused("longer than \(Self.maximumTokenLength) bytes") }
        for validator in validators {
            if let validated = try await validator.validate(presented, context: context) { return validated }
        }
        throw presented.refused("not issued here or by a trusted issuer")
    }

    /// A token type parameter; absent is nil. RFC 8693 §3 names the types; one not supported here is
    /// `invalid_request` (§2.2.2: "If the request itself is not valid").
    static func tokenType(_ value: String?, parameter: String) throws(OAuthError) -> TokenTypeIdentifier? {
        guard let value else { return nil }
        guard let type = TokenTypeIdentifier(rawValue: value), [.accessToken, .idToken, .jwt].contains(type) else {
            throw OAuthError.invalidRequest("The \(parameter) is not a token type this server accepts.", detail: "\(parameter) \(value.prefix(80))")
        }
        return type
    }

    /// What is issued: an access token in the client's format, or a JWT access token when a JWT is
    /// asked for (RFC 8693 §2.2.1 issued_token_type).
    static func issuedType(requested: String?) throws(OAuthError) -> TokenTypeIdentifier {
        guard let requested else { return .accessToken }
        switch TokenTypeIdentifier(rawValue: requested) {
        case .accessToken?: return .accessToken
        case .jwt?: return .jwt
        default:
            throw OAuthError.invalidRequest("This server issues only access tokens by exchange.", detail: "requested_token_type \(requested.prefix(80))")
        }
    }

    /// The audiences of the issued token: every `resource` (RFC 8707, an absolute URI) and `audience`
    /// (RFC 8693 §2.1, any name the server knows) requested, each one of the client's exchange
    /// audiences, or its first when none is named. RFC 8693 §2.2.2: "If the authorization server is
    /// unwilling or unable to issue a token for any target service indicated by the resource or
    /// audience parameters, the invalid_target error code SHOULD be used".
    static func audiences(resources: [String], audiences: [String], policy: TokenExchangePolicy, clientID: String) throws(OAuthError) -> [String] {
        var requested: [String] = []
        for resource in resources {
            // RFC 8707 §2: "Its value MUST be an absolute URI ... and MUST NOT include a fragment component."
            guard ClientCredentialsGrant.isAbsoluteURIWithoutFragment(resource) else {
                throw OAuthError(.invalidTarget, "A resource indicator must be an absolute URI without a fragment.")
            }
            if !requested.contains(resource) { requested.append(resource) }
        }
        for audience in audiences where !requested.contains(audience) { requested.append(audience) }
        guard !requested.isEmpty else {
            guard let first = policy.audiences.first else {
                throw OAuthError(.invalidTarget, "The client has no exchange audience.", detail: "client \(clientID) has no exchange audiences")
            }
            return [first]
        }
        for value in requested where !policy.audiences.contains(value) {
            throw OAuthError(.invalidTarget, "The requested audience is not one this client may exchange tokens for.",
                             detail: "client \(clientID) asked for \(value.prefix(200))")
        }
        return requested
    }

    /// The scope of the issued token: never wider than the subject token's (when it carries one) or the
    /// client's allowed scopes. A request asking for more is `invalid_scope` (RFC 6749 §5.2: "The
    /// requested scope is invalid, unknown, malformed, or exceeds the scope granted by the resource
    /// owner"), never silently narrowed; without one the issued scope is what both allow (or the
    /// client's default scopes when the subject token says nothing of scope).
    static func scope(requested: Scope?, subject: ValidatedToken, client: Client) throws(OAuthError) -> Scope {
        let limit = subject.scope.map { Scope($0.tokens.intersection(client.allowedScopes.tokens)) } ?? client.allowedScopes
        if let requested {
            guard requested.isSubset(of: limit) else {
                throw OAuthError(.invalidScope, "The requested scope exceeds what the subject token and the client allow.",
                                 detail: "client \(client.id) asked for \(requested) of \(limit)")
            }
            return requested
        }
        return subject.scope == nil ? client.defaultScopes : limit
    }

    /// RFC 8693 §4.4: may_act names "the party that is asserted as being eligible to act for the party
    /// identified by the JWT containing the claim". The acting party — the actor, or without one the
    /// client itself — must be that party.
    static func checkMayAct(subject: ValidatedToken, actor: ValidatedToken?, client: Client, issuer: String) throws(OAuthError) {
        guard let allowed = subject.mayAct else { return }
        let acting = actor.map { ActorIdentity(subject: $0.subject, issuer: $0.issuer ?? issuer) } ?? ActorIdentity(subject: client.id, issuer: issuer)
        guard acting.subject == allowed.subject, allowed.issuer == nil || allowed.issuer == acting.issuer else {
            throw OAuthError(.invalidRequest, subjectFailureDescription,
                             detail: "subject token: may_act names \(allowed.subject), not the acting \(acting.subject)")
        }
    }

    /// The issued token's `sub`: the subject's own for this server's tokens; for an external issuer's,
    /// its subject after the registered prefix, which must not look like one of this server's subjects
    /// (a user's is a UUID) nor be the exchanging client's id (a client's own token has `sub` =
    /// `client_id`), so that no external issuer can mint a token that names a local party.
    static func issuedSubject(_ subject: ValidatedToken, client: Client) throws(OAuthError) -> String {
        guard subject.kind == .external else { return subject.subject }
        let issued = subject.subjectPrefix + subject.subject
        guard !User.hasSubjectForm(issued), issued != client.id else {
            throw OAuthError(.invalidRequest, subjectFailureDescription,
                             detail: "subject token: sub \(issued.prefix(64)) of \(subject.issuer ?? "") has the form of a local subject; register the issuer with a subject prefix")
        }
        return issued
    }
}
