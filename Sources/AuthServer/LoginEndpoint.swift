import Foundation
import HTTPServer
import JOSE
import OAuth

/// `POST /login` (the login form) and `GET` and `POST /consent` (the consent form).
struct LoginEndpoint: Sendable {
    let login: BrowserLogin
    let logger: Logger
    let audit: AuditLog
    let metrics: Metrics

    static let loginPath = "/login"
    static let consentPath = "/consent"

    // MARK: - Login

    func submitLogin(_ request: HTTPRequest) async -> HTTPResponse {
        if let limited = login.rateLimitedPage(request) { return limited }
        if login.isCrossSite(request) { return refuseCrossSite(request, form: "login") }
        let form: [String: String]
        let bound: BrowserLogin.BoundInteraction
        do {
            form = try Self.form(request)
            bound = try await login.boundInteraction(id: form["interaction"], csrfToken: form["csrf_token"], request: request, requireCSRF: true)
        } catch {
            return BrowserLogin.errorPage(error, logger: logger, remote: request.remoteAddress)
        }
        let username = form["username"] ?? ""
        let password = form["password"] ?? ""
        let page = LoginPageModel(interaction: bound.id, csrfToken: form["csrf_token"] ?? "", clientName: BrowserLogin.displayName(bound.client),
                                  username: String(username.prefix(User.maximumUsernameLength)))
        do {
            switch try await login.checkCredentials(username: username, password: password, request: request) {
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
                failed.errorMessage = BrowserLogin.invalidCredentials
                return Pages.login(failed)
            case .success(let user):
                return try await signedIn(user, bound: bound, request: request)
            }
        } catch {
            return BrowserLogin.errorPage(error, logger: logger, remote: request.remoteAddress)
        }
    }

    /// After a successful login: a new session, then consent or straight back to the client.
    private func signedIn(_ user: User, bound: BrowserLogin.BoundInteraction, request: HTTPRequest) async throws -> HTTPResponse {
        // A session the browser had before is ended: the new login replaces it.
        if let previous = Cookies.value(login.cookies.session, in: request), previous.utf8.count <= 128 {
            try await login.store.endSession(idHash: AuthorizationCode.hash(previous))
        }
        let created = try await login.createSession(for: user)
        audit.record(.loginSucceeded, ["sub": user.subject, "client_id": bound.client.id, "sid": created.session.sid])
        let sessionCookie = HTTPHeaders([
            ("Set-Cookie", login.cookies.setCookie(login.cookies.session, created.cookie, maxAge: Int(login.sessionTTL))),
            ("Set-Cookie", login.cookies.setCookie(login.cookies.device, login.knownDeviceCookie(userID: user.id), maxAge: BrowserLogin.knownDeviceLifetime)),
        ])
        let authorization = bound.stored.request
        if try await login.needsConsent(authorization, client: bound.client, userID: user.id) {
            try await login.store.attachLogin(interactionHash: bound.idHash, userID: user.id, sessionHash: created.idHash)
            return BrowserLogin.redirect("\(Self.consentPath)?interaction=\(bound.id)", headers: sessionCookie)
        }
        guard try await login.store.finishInteraction(idHash: bound.idHash) else {
            throw BrowserLogin.InteractionRejected(detail: "interaction completed twice")
        }
        let location = try await login.issueCode(authorization, session: created.session)
        return BrowserLogin.redirect(location, headers: sessionCookie)
    }

    // MARK: - Consent

    /// The consent page of an interaction whose login is done.
    func showConsent(_ request: HTTPRequest) async -> HTTPResponse {
        if let limited = login.rateLimitedPage(request) { return limited }
        do {
            let query = try FormURLEncoded.parameters(Array((request.query ?? "").utf8))
            let bound = try await login.boundInteraction(id: query["interaction"], csrfToken: nil, request: request, requireCSRF: false)
            let user = try await signedInUser(bound, request: request)
            let csrf = login.csrfToken(interaction: bound.id, browser: bound.browser)
            return Pages.consent(login.consentModel(interaction: bound.id, csrf: csrf, client: bound.client, user: user, scopes: bound.stored.request.scopes))
        } catch {
            return BrowserLogin.errorPage(error, logger: logger, remote: request.remoteAddress)
        }
    }

    /// The decision: `allow` issues a code and remembers the consent; `deny` answers `access_denied`.
    func submitConsent(_ request: HTTPRequest) async -> HTTPResponse {
        if let limited = login.rateLimitedPage(request) { return limited }
        if login.isCrossSite(request) { return refuseCrossSite(request, form: "consent") }
        do {
            let form = try Self.form(request)
            let bound = try await login.boundInteraction(id: form["interaction"], csrfToken: form["csrf_token"], request: request, requireCSRF: true)
            let user = try await signedInUser(bound, request: request)
            guard let decision = form["decision"], decision == "allow" || decision == "deny" else {
                throw BrowserLogin.InteractionRejected(detail: "no consent decision")
            }
            guard let current = try await login.currentSession(request) else { throw BrowserLogin.InteractionRejected(detail: "session ended") }
            guard try await login.store.finishInteraction(idHash: bound.idHash) else {
                throw BrowserLogin.InteractionRejected(detail: "interaction completed twice")
            }
            let authorization = bound.stored.request
            guard decision == "allow" else {
                audit.record(.consentDenied, ["sub": user.subject, "client_id": bound.client.id])
                // RFC 6749 §4.1.2.1 access_denied: "The resource owner or authorization server denied the request."
                return BrowserLogin.redirect(login.errorLocation(OAuthError(.accessDenied, "The user denied the request."),
                                                                 redirectURI: authorization.redirectURI, state: authorization.state))
            }
            try await login.store.grantConsent(userID: user.id, clientID: bound.client.id, scope: authorization.scope)
            audit.record(.consentGranted, ["sub": user.subject, "client_id": bound.client.id, "scope": authorization.scope.description])
            return BrowserLogin.redirect(try await login.issueCode(authorization, session: current.session))
        } catch {
            return BrowserLogin.errorPage(error, logger: logger, remote: request.remoteAddress)
        }
    }

    private func refuseCrossSite(_ request: HTTPRequest, form: String) -> HTTPResponse {
        logger.info("cross-site form post refused", ["form": form, "origin": String((request.headers["Origin"] ?? "").prefix(200)),
                                                    "remote": request.remoteAddress])
        return BrowserLogin.crossSitePage()
    }

    /// The user who signed in for this interaction, still signed in with the same session.
    private func signedInUser(_ bound: BrowserLogin.BoundInteraction, request: HTTPRequest) async throws -> User {
        guard let userID = bound.stored.userID, let sessionHash = bound.stored.sessionHash,
              let current = try await login.currentSession(request), current.user.id == userID,
              constantTimeEquals(current.idHash, sessionHash) else {
            throw BrowserLogin.InteractionRejected(detail: "consent without the session that signed in")
        }
        return current.user
    }

    /// A form post's fields; a repeated field is refused.
    static func form(_ request: HTTPRequest) throws -> [String: String] {
        guard request.method == .POST, TokenEndpoint.isFormURLEncoded(request.headers["Content-Type"]) else {
            throw AuthorizationPageError("The form must be posted as application/x-www-form-urlencoded.")
        }
        do {
            return try FormURLEncoded.parameters(request.body)
        } catch {
            throw AuthorizationPageError("The form is malformed.")
        }
    }
}
