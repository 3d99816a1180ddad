import Foundation
import HTTPServer
import JOSE
import OAuth

/// `POST /login` (the login form) and `GET` and `POST /consent` (the consent form).
struct LoginEndpoint: Sendable {
    let browser: BrowserResponses
    let clients: ClientService
    let interactions: PendingInteractions
    let passwords: PasswordLogin
    let sessions: LoginSessions
    let consents: Consents
    let codes: CodeIssuance
    let logger: Logger
    let audit: AuditLog
    let metrics: Metrics

    static let loginPath = "/login"
    static let consentPath = "/consent"

    // MARK: - Login

    func submitLogin(_ request: HTTPRequest) async -> HTTPResponse {
        await ErrorResponses.page("login", request, logger: logger) {
            let (form, bound) = try await post(request)
            let username = form["username"] ?? ""
            let page = LoginPageModel(interaction: bound.id, csrfToken: form["csrf_token"] ?? "", clientName: BrowserResponses.displayName(bound.client),
                                      username: String(username.prefix(User.maximumUsernameLength)))
            switch try await passwords.check(username: username, password: form["password"] ?? "", request: request) {
            case .throttled(let retryAfter):
                audit.record(.loginThrottled, ["client_id": bound.client.id, "retry_after": "\(retryAfter)"])
                metrics.rateLimited("login")
                var throttled = page
                throttled.errorMessage = "Too many failed sign-in attempts. Try again in \(retryAfter) second\(retryAfter == 1 ? "" : "s")."
                return Pages.login(throttled, status: .tooManyRequests, headers: HTTPHeaders([("Retry-After", "\(retryAfter)")]))
            case .failure:
                // The username is not logged: people type passwords into it by mistake.
                audit.record(.loginFailed, ["client_id": bound.client.id])
                metrics.loginFailed()
                var failed = page
                failed.errorMessage = PasswordLogin.invalidCredentials
                return Pages.login(failed)
            case .success(let user):
                return try await signedIn(user, bound: bound, request: request)
            }
        }
    }

    /// After a successful login: a new session (replacing the one the browser had), the browser
    /// known for the account, then consent or straight back to the client.
    private func signedIn(_ user: User, bound: PendingInteractions.Bound, request: HTTPRequest) async throws -> HTTPResponse {
        try await sessions.endPrevious(request)
        let created = try await sessions.create(for: user)
        audit.record(.loginSucceeded, ["sub": user.subject, "client_id": bound.client.id, "sid": created.current.session.sid])
        let cookies = HTTPHeaders([("Set-Cookie", sessions.setCookie(created.cookie)), ("Set-Cookie", passwords.knownDeviceCookie(userID: user.id))])
        let authorization = bound.stored.request
        if try await consents.isNeeded(authorization, client: bound.client, userID: user.id) {
            try await interactions.attachLogin(bound.digest, userID: user.id, sessionDigest: created.current.digest)
            return BrowserResponses.redirect("\(Self.consentPath)?interaction=\(bound.id)", headers: cookies)
        }
        try await interactions.finish(bound.digest)
        return BrowserResponses.redirect(try await codes.issue(authorization, session: created.current.session), headers: cookies)
    }

    // MARK: - Consent

    /// The consent page of an interaction whose login is done.
    func showConsent(_ request: HTTPRequest) async -> HTTPResponse {
        await ErrorResponses.page("consent page", request, logger: logger) {
            try browser.enforceRateLimit(request)
            let query = try FormURLEncoded.parameters(Array((request.query ?? "").utf8))
            let bound = try await interactions.bound(id: query["interaction"], csrfToken: nil, request: request, requireCSRF: false,
                                                      client: clients.enabledClient(id:))
            let current = try await signedIn(bound, request: request)
            return Pages.consent(ConsentPageModel(
                interaction: bound.id, csrfToken: interactions.csrfToken(interaction: bound.id, browser: bound.browser),
                clientName: BrowserResponses.displayName(bound.client), clientID: bound.client.id, username: current.user.username,
                scopes: bound.stored.request.scopes))
        }
    }

    /// The decision: `allow` issues a code and remembers the consent; `deny` answers `access_denied`.
    func submitConsent(_ request: HTTPRequest) async -> HTTPResponse {
        await ErrorResponses.page("consent", request, logger: logger) {
            let (form, bound) = try await post(request)
            let current = try await signedIn(bound, request: request)
            guard let decision = form["decision"], decision == "allow" || decision == "deny" else {
                throw InteractionRejected(detail: "no consent decision")
            }
            try await interactions.finish(bound.digest)
            let authorization = bound.stored.request
            guard decision == "allow" else {
                audit.record(.consentDenied, ["sub": current.user.subject, "client_id": bound.client.id])
                // RFC 6749 §4.1.2.1 access_denied: "The resource owner or authorization server denied the request."
                return BrowserResponses.redirect(codes.errorLocation(OAuthError(.accessDenied, "The user denied the request."),
                                                                     redirectURI: authorization.redirectURI, state: authorization.state))
            }
            try await consents.grant(userID: current.user.id, clientID: bound.client.id, scope: authorization.scope)
            audit.record(.consentGranted, ["sub": current.user.subject, "client_id": bound.client.id, "scope": authorization.scope.description])
            return BrowserResponses.redirect(try await codes.issue(authorization, session: current.session))
        }
    }

    /// The session that signed in for this interaction, still current in this browser.
    private func signedIn(_ bound: PendingInteractions.Bound, request: HTTPRequest) async throws -> LoginSessions.Current {
        guard let userID = bound.stored.userID, let sessionDigest = bound.stored.sessionDigest,
              let current = try await sessions.current(request), current.user.id == userID,
              constantTimeEquals(current.digest, sessionDigest) else {
            throw InteractionRejected(detail: "consent without the session that signed in")
        }
        return current
    }

    /// A form posted to continue an interaction: within the rate limit, from this site, decoded, and
    /// bound to the interaction this browser started with its CSRF token.
    private func post(_ request: HTTPRequest) async throws -> (form: [String: String], bound: PendingInteractions.Bound) {
        try browser.enforceRateLimit(request)
        try browser.refuseCrossSite(request)
        let form = try BrowserResponses.form(request)
        let bound = try await interactions.bound(id: form["interaction"], csrfToken: form["csrf_token"], request: request, requireCSRF: true,
                                                  client: clients.enabledClient(id:))
        return (form, bound)
    }
}
