import JOSE

/// A token presented in a token exchange (RFC 8693 §2.1), as a subject or as an actor.
public struct PresentedToken: Sendable {
    public enum Role: String, Sendable {
        case subject, actor
    }

    public var token: String
    /// What the client says the token is (`subject_token_type` or `actor_token_type`).
    public var type: TokenTypeIdentifier
    public var role: Role

    public init(token: String, type: TokenTypeIdentifier, role: Role) {
        self.token = token
        self.type = type
        self.role = role
    }
}

/// What an exchange is checked against: the exchanging client, this instance's keys, and the time.
public struct ExchangeContext: Sendable {
    public var client: Client
    public var ring: KeyRing
    /// Seconds since the epoch.
    public var now: Int64

    public init(client: Client, ring: KeyRing, now: Int64) {
        self.client = client
        self.ring = ring
        self.now = now
    }
}

/// A presented token that passed every check: who it names, what it allows, and where it comes from.
public struct ValidatedToken: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// An access token this server issued (JWT or opaque).
        case accessToken = "access_token"
        /// An ID token this server issued.
        case idToken = "id_token"
        /// A JWT of a trusted external issuer.
        case external
    }

    public var kind: Kind
    /// `sub` as the token states it.
    public var subject: String
    /// The issuer that vouches for the subject: nil for this server.
    public var issuer: String?
    /// The client the token was issued to (`client_id`, or an ID token's `azp`); nil for external tokens.
    public var clientID: String?
    /// The scope the token carries; nil when it says nothing of scope (ID tokens, external tokens
    /// without `scope`), so that it sets no limit of its own.
    public var scope: Scope?
    public var issuedAt: Int64
    public var expiresAt: Int64
    /// Its delegation chain (`act`), the current actor first.
    public var actors: [ActorIdentity]
    /// RFC 8693 §4.4 `may_act`: the one party allowed to act for the subject, when the token names one.
    public var mayAct: ActorIdentity?
    /// For this server's tokens, the tokens it was exchanged from and the token itself: what a token
    /// exchanged from it must name to be revoked with any of them.
    public var lineage: [TokenAncestor]
    /// The login session its grant began in (`sid`).
    public var sessionID: String?
    /// The user's username, when the token carries it.
    public var username: String?
    /// What an external issuer's subjects are prefixed with in the tokens issued here.
    public var subjectPrefix: String

    public init(kind: Kind, subject: String, issuer: String? = nil, clientID: String? = nil, scope: Scope?, issuedAt: Int64, expiresAt: Int64,
                actors: [ActorIdentity] = [], mayAct: ActorIdentity? = nil, lineage: [TokenAncestor] = [], sessionID: String? = nil,
                username: String? = nil, subjectPrefix: String = "") {
        self.kind = kind
        self.subject = subject
        self.issuer = issuer
        self.clientID = clientID
        self.scope = scope
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.actors = actors
        self.mayAct = mayAct
        self.lineage = lineage
        self.sessionID = sessionID
        self.username = username
        self.subjectPrefix = subjectPrefix
    }

    /// How many exchanges lie behind the token: the tokens it was exchanged from, or the actors it
    /// names when another issuer made the chain.
    public var exchangeDepth: Int { max(lineage.count - 1, actors.count) }

    /// The token as an actor in `act` (RFC 8693 §4.1).
    public var actorIdentity: ActorIdentity { ActorIdentity(subject: subject, issuer: issuer) }
}

/// Validates one kind of token presented in an exchange: this server's own tokens, a trusted external
/// issuer's JWTs, and any other kind (a SPIFFE JWT-SVID as actor, say) by adding a validator.
///
/// A validator recognises its tokens without trusting them (the prefix of an opaque token, the `iss`
/// of a JWT), then checks everything the token proves: signature or seal, issuer, expiry, audience
/// and revocation. RFC 8693 §2.2.2: when "either the subject_token or actor_token are invalid for any
/// reason, or are unacceptable based on policy", the error is `invalid_request`.
public protocol ExchangeTokenValidator: Sendable {
    /// The validated token, or nil when it is not one this validator answers for (another may be).
    /// Throws ``OAuthError`` (`invalid_request`) when the token is one of its kind and is refused.
    func validate(_ presented: PresentedToken, context: ExchangeContext) async throws -> ValidatedToken?
}

extension PresentedToken {
    /// The refusal of this token: one description per role, so that a client learns nothing of which
    /// check failed; the reason is logged.
    func refused(_ detail: String) -> OAuthError {
        OAuthError(.invalidRequest, role == .subject ? TokenExchangeGrant.subjectFailureDescription : TokenExchangeGrant.actorFailureDescription,
                   detail: "\(role.rawValue) token: \(detail)")
    }
}
