import Foundation

/// A validated authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1): what the
/// browser asked for, checked against the client's registration.
///
/// It is kept server-side while the person signs in or consents, so it is `Codable`.
public struct AuthorizationRequest: Sendable, Equatable, Codable {
    /// `prompt` values (OIDC Core §3.1.2.1).
    public enum Prompt: String, Sendable, Codable, CaseIterable {
        case none, login, consent
        case selectAccount = "select_account"
    }

    public var clientID: String
    /// The redirect URI as the request sent it (it matched a registered one).
    public var redirectURI: String
    public var scopes: [String]
    /// Returned to the client byte for byte.
    public var state: String?
    public var nonce: String?
    /// The S256 `code_challenge`.
    public var codeChallenge: String
    public var prompts: [Prompt]
    /// `max_age` in seconds.
    public var maxAge: Int?
    /// `login_hint`: pre-fills the username field.
    public var loginHint: String?
    /// The audiences the access token will be bound to.
    public var audiences: [String]

    public var scope: Scope { Scope(scopes) }
    /// Whether this is an OpenID Connect request (OIDC Core §3.1.2.1: `scope` contains `openid`).
    public var isOpenID: Bool { scopes.contains("openid") }
    public func has(_ prompt: Prompt) -> Bool { prompts.contains(prompt) }

    public init(clientID: String, redirectURI: String, scopes: [String], state: String? = nil, nonce: String? = nil,
                codeChallenge: String, prompts: [Prompt] = [], maxAge: Int? = nil, loginHint: String? = nil, audiences: [String]) {
        self.clientID = clientID
        self.redirectURI = redirectURI
        self.scopes = scopes
        self.state = state
        self.nonce = nonce
        self.codeChallenge = codeChallenge
        self.prompts = prompts
        self.maxAge = maxAge
        self.loginHint = loginHint
        self.audiences = audiences
    }

    /// Whether the person must sign in again although a session exists: `prompt=login`, or
    /// OIDC Core §3.1.2.1 `max_age`: "If the elapsed time is greater than this value, the OP
    /// MUST attempt to actively re-authenticate the End-User."
    public func requiresFreshLogin(authTime: Date, now: Date) -> Bool {
        if has(.login) { return true }
        if let maxAge { return now.timeIntervalSince(authTime) > TimeInterval(maxAge) || maxAge == 0 }
        return false
    }
}

/// The parameters of an authorization request, decoded but not yet checked against a client.
///
/// Parsing is in two stages because they fail differently. RFC 6749 §4.1.2.1: "If the request
/// fails due to a missing, invalid, or mismatching redirection URI, or if the client identifier
/// is missing or invalid, the authorization server SHOULD inform the resource owner of the error
/// and MUST NOT automatically redirect the user-agent to the invalid redirection URI." Every
/// other error is sent to the (verified) redirect URI.
public struct AuthorizationParameters: Sendable {
    /// Single-valued parameters by name; empty values count as absent (RFC 6749 §3.1).
    public let values: [String: String]
    /// `resource` may repeat (RFC 8707 §2).
    public let resources: [String]
    /// The first parameter that appeared more than once, other than `resource`.
    public let repeated: String?
    /// Every parameter that appeared more than once (stage one checks `client_id` and
    /// `redirect_uri` among them, whatever else repeated first).
    public let repeatedNames: Set<String>

    /// Parameters longer than this are refused: bounds what a request can make the server store.
    public static let maximumValueBytes = 2_048

    /// Decodes a query string or form body. A malformed encoding is an error of the first
    /// stage: without readable parameters, nothing can be sent back.
    public init(encoded bytes: some Collection<UInt8>) throws(AuthorizationPageError) {
        let pairs: [(name: String, value: String)]
        do {
            pairs = try FormURLEncoded.pairs(bytes)
        } catch {
            throw AuthorizationPageError("The authorization request is malformed: \(TokenRequest.describe(error))")
        }
        var values: [String: String] = [:]
        var seen = Set<String>()
        var repeated: String?
        var repeatedNames = Set<String>()
        var resources: [String] = []
        for (name, value) in pairs {
            if name == "resource" {
                if !value.isEmpty { resources.append(value) }
                continue
            }
            if !seen.insert(name).inserted {
                if repeated == nil { repeated = name }
                repeatedNames.insert(name)
                continue
            }
            if !value.isEmpty { values[name] = value }
        }
        self.values = values
        self.resources = resources
        self.repeated = repeated
        self.repeatedNames = repeatedNames
    }

    public subscript(name: String) -> String? { values[name] }

    /// The `state` to send back with an error: none when `state` itself was repeated, since then
    /// no one value is the client's (RFC 6749 §4.1.2.1: state is returned "if a "state" parameter
    /// was present in the client authorization request" — as one parameter).
    public var echoableState: String? { repeatedNames.contains("state") ? nil : values["state"] }

    /// Stage one: the client id and redirect URI, which decide whether errors can be redirected.
    /// Returns the client id; the caller looks the client up and calls ``redirectURI(for:)``.
    public func clientID() throws(AuthorizationPageError) -> String {
        if repeatedNames.contains("client_id") { throw AuthorizationPageError("The client_id parameter is repeated.") }
        guard let clientID = values["client_id"] else { throw AuthorizationPageError("The request has no client_id.") }
        guard PresentedCredentials.isWellFormed(clientID: clientID) else {
            throw AuthorizationPageError("The client_id is not valid.")
        }
        return clientID
    }

    /// Stage one, continued: the redirect URI must be present and registered for `client`.
    public func redirectURI(for client: Client) throws(AuthorizationPageError) -> String {
        if repeatedNames.contains("redirect_uri") { throw AuthorizationPageError("The redirect_uri parameter is repeated.") }
        // Tessera requires redirect_uri on every request (OAuth 2.1 §4.1.1 for clients with several).
        guard let redirectURI = values["redirect_uri"] else { throw AuthorizationPageError("The request has no redirect_uri.") }
        guard RedirectURI.matches(redirectURI, registered: client.redirectURIs, allowsLoopbackPort: client.type == .public) else {
            throw AuthorizationPageError("The redirect_uri is not registered for this client.",
                                         detail: "client \(client.id) sent an unregistered redirect_uri")
        }
        return redirectURI
    }

    /// Stage two: every other check, against `client`. Errors are redirectable.
    public func validate(client: Client, redirectURI: String) throws(OAuthError) -> AuthorizationRequest {
        // OIDC Core §6.1 / §6.2: request objects are not supported.
        if values["request"] != nil { throw OAuthError(.requestNotSupported, "Request objects are not supported.") }
        if values["request_uri"] != nil { throw OAuthError(.requestURINotSupported, "The request_uri parameter is not supported.") }
        if values["registration"] != nil { throw OAuthError(.registrationNotSupported, "The registration parameter is not supported.") }
        // RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once."
        if let repeated { throw OAuthError.invalidRequest("The \(TokenRequest.printable(repeated)) parameter is repeated.") }
        if let long = values.first(where: { $0.value.utf8.count > Self.maximumValueBytes }) {
            throw OAuthError.invalidRequest("The \(TokenRequest.printable(long.key)) parameter is too long.")
        }
        guard let responseType = values["response_type"] else { throw OAuthError.invalidRequest("The response_type parameter is missing.") }
        // RFC 6749 §4.1.2.1 unsupported_response_type; OAuth 2.1 keeps only "code".
        guard responseType == "code" else {
            throw OAuthError(.unsupportedResponseType, "Only response_type=code is supported.")
        }
        if let mode = values["response_mode"], mode != "query" {
            throw OAuthError.invalidRequest("Only response_mode=query is supported.")
        }
        // RFC 6749 §5.2 unauthorized_client: "The authenticated client is not authorized to use this authorization grant type."
        guard client.grantTypes.contains(.authorizationCode) else {
            throw OAuthError(.unauthorizedClient, "The client is not allowed to use the authorization code grant.")
        }
        // RFC 7636 §4.4.1: "If the server requires Proof Key for Code Exchange (PKCE) ... and the
        // client does not send the "code_challenge" in the request, the authorization endpoint MUST
        // return the authorization error response with the "error" value set to "invalid_request"."
        let challenge = try PKCE.validateChallenge(values["code_challenge"], method: values["code_challenge_method"])
        let scope: Scope
        if let requested = values["scope"] {
            scope = try Scope(parsing: requested)
            guard scope.isSubset(of: client.allowedScopes) else {
                throw OAuthError(.invalidScope, "The requested scope exceeds what the client may request.",
                                 detail: "client \(client.id) asked for \(scope) but may have \(client.allowedScopes)")
            }
        } else {
            scope = client.defaultScopes
        }
        var prompts: [AuthorizationRequest.Prompt] = []
        if let promptText = values["prompt"] {
            for word in promptText.split(separator: " ") {
                guard let prompt = AuthorizationRequest.Prompt(rawValue: String(word)) else {
                    throw OAuthError.invalidRequest("The prompt value is not supported.")
                }
                if !prompts.contains(prompt) { prompts.append(prompt) }
            }
            // OIDC Core §3.1.2.1: "If this parameter contains none with any other value, an error is returned."
            if prompts.contains(.none) && prompts.count > 1 {
                throw OAuthError.invalidRequest("prompt=none cannot be combined with other prompt values.")
            }
        }
        var maxAge: Int?
        if let text = values["max_age"] {
            guard text.utf8.count <= 9, text.allSatisfy({ ("0"..."9").contains($0) }), let seconds = Int(text) else {
                throw OAuthError.invalidRequest("max_age must be a whole number of seconds.")
            }
            maxAge = seconds
        }
        let audiences = try Self.audiences(resources: resources, client: client)
        return AuthorizationRequest(
            clientID: client.id, redirectURI: redirectURI, scopes: scope.tokens.sorted(), state: values["state"], nonce: values["nonce"],
            codeChallenge: challenge, prompts: prompts, maxAge: maxAge,
            loginHint: values["login_hint"].flatMap { User.usernameProblem($0) == nil ? $0 : nil }, audiences: audiences)
    }

    /// RFC 8707 resource indicators, each among the client's audiences; none named: the client's first audience, if any.
    static func audiences(resources: [String], client: Client) throws(OAuthError) -> [String] {
        if resources.isEmpty { return client.audiences.first.map { [$0] } ?? [] }
        return try ClientCredentialsGrant.audience(resources: resources, audience: nil, client: client)
    }
}

/// An authorization request that cannot be answered at the client's redirect URI; the
/// browser is shown an error page instead.
public struct AuthorizationPageError: Error, Sendable, Equatable {
    /// Shown to the person.
    public let message: String
    /// Logged only.
    public let detail: String?
    /// The error code the page names: `invalid_client` for an unknown or disabled client,
    /// `invalid_request` for everything else.
    public let code: OAuthError.Code
    public init(_ message: String, detail: String? = nil, code: OAuthError.Code = .invalidRequest) {
        self.message = message
        self.detail = detail
        self.code = code
    }
}
