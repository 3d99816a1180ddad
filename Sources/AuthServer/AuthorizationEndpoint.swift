import Foundation
import HTTPServer
import OAuth

/// `GET` and `POST /authorize` (RFC 6749 §4.1.1, OIDC Core §3.1.2).
struct AuthorizationEndpoint: Sendable {
    let browser: BrowserResponses
    let clients: ClientService
    let sessions: LoginSessions
    let consents: Consents
    let interactions: PendingInteractions
    let codes: CodeIssuance
    /// The audience of a token when no resource is named: the UserInfo endpoint.
    let userInfoAudience: String
    let logger: Logger

    static let path = "/authorize"

    func authorize(_ request: HTTPRequest) async -> HTTPResponse {
        // Stage one: until the client and its redirect URI are known good, errors are shown
        // to the person and never redirected (RFC 6749 §4.1.2.1).
        let parameters: AuthorizationParameters
        let client: Client
        let redirectURI: String
        do {
            try browser.enforceRateLimit(request)
            parameters = try AuthorizationParameters(encoded: try BrowserResponses.parameterBytes(request))
            let clientID = try parameters.clientID()
            guard let found = try await clients.enabledClient(id: clientID) else {
                // RFC 6749 §4.1.2.1: an invalid client identifier is never redirected; the page names invalid_client.
                throw AuthorizationPageError("The application is not registered here.", detail: "unknown or disabled client \(clientID)",
                                             code: .invalidClient)
            }
            client = found
            redirectURI = try parameters.redirectURI(for: client)
        } catch {
            ErrorResponses.log(error, "authorization request", request, logger: logger)
            return ErrorResponses.page(error)
        }
        // Stage two: every later error goes back to the client, with its state and our issuer.
        do {
            var authorization = try parameters.validate(client: client, redirectURI: redirectURI)
            // An access token always has an audience (RFC 9068 §2.2); without a resource server
            // named, it is for the UserInfo endpoint.
            if authorization.audiences.isEmpty { authorization.audiences = [userInfoAudience] }
            return try await proceed(authorization, client: client, request: request)
        } catch {
            ErrorResponses.log(error, "authorization request", request, logger: logger)
            let oauthError = ErrorResponses.answer(error).error
            return BrowserResponses.redirect(codes.errorLocation(oauthError, redirectURI: redirectURI, state: parameters.echoableState))
        }
    }

    /// Continues a validated request: a code at once when a live session and consent suffice
    /// (single sign-on), else the login or consent page. Throws redirectable errors.
    private func proceed(_ authorization: AuthorizationRequest, client: Client, request: HTTPRequest) async throws -> HTTPResponse {
        let current = try await sessions.current(request)
        guard let current, !authorization.requiresFreshLogin(authTime: current.session.authTime, now: Date()) else {
            // OIDC Core §3.1.2.1 prompt=none: "The Authorization Server MUST NOT display any
            // authentication or consent user interface pages. An error is returned if an End-User is
            // not already authenticated".
            if authorization.has(.none) {
                throw OAuthError(.loginRequired, "The user is not signed in.")
            }
            return try await startInteraction(authorization, client: client, request: request, signedIn: nil)
        }
        if try await consents.isNeeded(authorization, client: client, userID: current.user.id) {
            if authorization.has(.none) {
                throw OAuthError(.consentRequired, "The user has not consented to this client's request.")
            }
            return try await startInteraction(authorization, client: client, request: request, signedIn: current)
        }
        let location = try await codes.issue(authorization, session: current.session)
        logger.debug("authorization code issued", ["client_id": client.id, "sub": current.user.subject, "sso": "true"])
        return BrowserResponses.redirect(location)
    }

    /// Stores the request as an interaction and shows the login page (or, when signed in already,
    /// the consent page) for it.
    private func startInteraction(_ authorization: AuthorizationRequest, client: Client, request: HTTPRequest,
                                  signedIn: LoginSessions.Current?) async throws -> HTTPResponse {
        let started = try await interactions.start(authorization, request: request)
        if let signedIn {
            try await interactions.attachLogin(started.digest, userID: signedIn.user.id, sessionDigest: signedIn.digest)
            return Pages.consent(ConsentPageModel(interaction: started.id, csrfToken: started.csrf, clientName: BrowserResponses.displayName(client),
                                                  clientID: client.id, username: signedIn.user.username, scopes: authorization.scopes),
                                 headers: started.headers)
        }
        return Pages.login(LoginPageModel(interaction: started.id, csrfToken: started.csrf, clientName: BrowserResponses.displayName(client),
                                          username: authorization.loginHint ?? ""), headers: started.headers)
    }
}
