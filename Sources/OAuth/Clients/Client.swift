import Foundation
import JOSE

/// A registered client (RFC 6749 §2, RFC 7591 §2 metadata names in comments).
public struct Client: Sendable, Equatable {
    public enum ClientType: String, Sendable, CaseIterable { case confidential, `public` }

    /// `token_endpoint_auth_method`: exactly one per client; only it is accepted.
    public enum AuthMethod: String, Sendable, CaseIterable {
        case clientSecretBasic = "client_secret_basic"
        case clientSecretPost = "client_secret_post"
        case privateKeyJWT = "private_key_jwt"
        case none
    }

    public enum GrantType: String, Sendable, CaseIterable {
        case authorizationCode = "authorization_code"
        case clientCredentials = "client_credentials"
        case refreshToken = "refresh_token"
    }

    public enum TokenFormat: String, Sendable, CaseIterable { case jwt, opaque }

    public var id: String
    public var name: String
    public var type: ClientType
    public var authMethod: AuthMethod
    public var grantTypes: Set<GrantType>
    /// Compared byte for byte (RFC 9700 §4.1.3).
    public var redirectURIs: [String]
    public var allowedScopes: Scope
    /// Granted when a request names no scope.
    public var defaultScopes: Scope
    /// Resource indicators (RFC 8707) tokens may be bound to; the first is the default.
    public var audiences: [String]
    public var accessTokenFormat: TokenFormat
    /// Overrides the server's access-token lifetime when set.
    public var accessTokenLifetime: TimeInterval?
    public var signingAlgorithm: JWSAlgorithm
    /// `id_token_signed_response_alg` (OIDC Registration §2): RS256 unless the client chose ES256.
    public var idTokenSigningAlgorithm: JWSAlgorithm
    /// Where RP-initiated logout may send the browser afterwards, compared byte for byte.
    public var postLogoutRedirectURIs: [String]
    /// Overrides the server's refresh-token idle lifetime when set.
    public var refreshIdleLifetime: TimeInterval?
    /// Overrides the server's refresh-token absolute lifetime when set.
    public var refreshAbsoluteLifetime: TimeInterval?
    /// The refresh-token reuse grace window (0: strict; at most 300 s).
    public var refreshGrace: TimeInterval = 0
    /// First-party clients skip the consent page.
    public var skipsConsent: Bool
    /// Audiences whose tokens this client may introspect (RFC 7662); empty: none.
    public var introspectableAudiences: [String]
    /// The client's public keys for `private_key_jwt` (RFC 7523).
    public var jwks: JWKS?
    public var isDisabled: Bool
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, name: String, type: ClientType, authMethod: AuthMethod, grantTypes: Set<GrantType>,
                redirectURIs: [String] = [], allowedScopes: Scope, defaultScopes: Scope, audiences: [String],
                accessTokenFormat: TokenFormat = .jwt, accessTokenLifetime: TimeInterval? = nil,
                signingAlgorithm: JWSAlgorithm = .es256, idTokenSigningAlgorithm: JWSAlgorithm = .rs256,
                postLogoutRedirectURIs: [String] = [], skipsConsent: Bool = false, introspectableAudiences: [String] = [],
                jwks: JWKS? = nil, isDisabled: Bool = false, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.name = name
        self.type = type
        self.authMethod = authMethod
        self.grantTypes = grantTypes
        self.redirectURIs = redirectURIs
        self.allowedScopes = allowedScopes
        self.defaultScopes = defaultScopes
        self.audiences = audiences
        self.accessTokenFormat = accessTokenFormat
        self.accessTokenLifetime = accessTokenLifetime
        self.signingAlgorithm = signingAlgorithm
        self.idTokenSigningAlgorithm = idTokenSigningAlgorithm
        self.postLogoutRedirectURIs = postLogoutRedirectURIs
        self.skipsConsent = skipsConsent
        self.introspectableAudiences = introspectableAudiences
        self.jwks = jwks
        self.isDisabled = isDisabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Why this registration is inconsistent, or nil when it is sound.
    public var problem: String? {
        if id.isEmpty || id.utf8.count > 128 { return "the client id must be 1 to 128 characters" }
        if !id.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) { return "the client id must be printable ASCII without spaces" }
        // A user's `sub` is always a UUID; a client's `sub` (client_credentials) is its id. Keeping
        // the two forms apart means no token for a client can ever name a person.
        if User.hasSubjectForm(id) { return "the client id must not have the form of a UUID (user subjects have that form)" }
        if grantTypes.isEmpty { return "at least one grant type is required" }
        switch (type, authMethod) {
        case (.public, .none), (.confidential, .clientSecretBasic), (.confidential, .clientSecretPost), (.confidential, .privateKeyJWT): break
        case (.public, _): return "a public client authenticates with 'none'"
        case (.confidential, .none): return "a confidential client must authenticate"
        }
        if type == .public && grantTypes.contains(.clientCredentials) { return "client_credentials needs a confidential client" }
        if type == .public && !introspectableAudiences.isEmpty { return "introspection needs a confidential client" }
        if grantTypes.contains(.clientCredentials) && audiences.isEmpty { return "client_credentials needs at least one audience (its tokens are audience-bound)" }
        if let bad = audiences.first(where: { !ClientCredentialsGrant.isAbsoluteURIWithoutFragment($0) }) { return "audience '\(bad)' is not an absolute URI without a fragment" }
        if let bad = introspectableAudiences.first(where: { !ClientCredentialsGrant.isAbsoluteURIWithoutFragment($0) }) { return "introspectable audience '\(bad)' is not an absolute URI without a fragment" }
        if name.utf8.count > 200 { return "the name must be at most 200 bytes" }
        if authMethod == .privateKeyJWT && (jwks?.keys.isEmpty ?? true) { return "private_key_jwt needs the client's JWKS" }
        if grantTypes.contains(.authorizationCode) && redirectURIs.isEmpty { return "authorization_code needs at least one redirect URI" }
        for uri in redirectURIs { if let problem = RedirectURI.registrationProblem(uri) { return "redirect URI '\(uri)' \(problem)" } }
        for uri in postLogoutRedirectURIs { if let problem = RedirectURI.registrationProblem(uri) { return "post-logout redirect URI '\(uri)' \(problem)" } }
        if !defaultScopes.isSubset(of: allowedScopes) { return "default scopes must be among the allowed scopes" }
        if let lifetime = accessTokenLifetime, lifetime <= 0 || lifetime > TimeInterval(AccessTokenIssuer.maximumLifetime) { return "the access-token lifetime must be between 1 s and 24 h" }
        if let idle = refreshIdleLifetime, idle < 60 { return "the refresh-token idle lifetime must be at least 60 s" }
        if let absolute = refreshAbsoluteLifetime, absolute < 60 { return "the refresh-token absolute lifetime must be at least 60 s" }
        if refreshGrace < 0 || refreshGrace > 300 { return "the refresh-token grace window must be between 0 and 300 s" }
        if grantTypes.contains(.refreshToken) && !grantTypes.contains(.authorizationCode) { return "refresh_token needs authorization_code (refresh tokens are issued with codes)" }
        return nil
    }
}
