import Foundation
import HTTPServer
import JOSE
import OAuth

/// `GET` and `POST /logout`: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0),
/// the `end_session_endpoint`.
///
/// With an `id_token_hint` of the current session the session ends at once. Otherwise the
/// person is asked to confirm with a form bound to the browser, so that a link on another
/// site cannot sign anyone out. The refresh tokens issued in the session end with it.
struct LogoutEndpoint: Sendable {
    let browser: BrowserResponses
    let clients: ClientService
    let sessions: LoginSessions
    let interactions: PendingInteractions
    let keys: KeyService
    let refreshTokens: any RefreshTokenStore
    let revocations: RevocationService
    let logger: Logger
    let audit: AuditLog

    static let path = "/logout"

    func logout(_ request: HTTPRequest) async -> HTTPResponse {
        await ErrorResponses.page("logout", request, logger: logger) {
            try browser.enforceRateLimit(request)
            return try await handle(request)
        }
    }

    private func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        let parameters = try AuthorizationParameters(encoded: try BrowserResponses.parameterBytes(request))
        if let repeated = parameters.repeated {
            throw AuthorizationPageError("The \(TokenRequest.printable(repeated)) parameter is repeated.")
        }
        var hint: IDTokenHint?
        if let token = parameters["id_token_hint"] {
            guard let verified = IDTokenHint.verify(token, keys: keys.current.ring.publishedKeys, issuer: browser.issuer.url) else {
                throw AuthorizationPageError("The id_token_hint is not an ID token issued here.")
            }
            hint = verified
        }
        // The client: client_id, or the audience of the hint (RP-Initiated Logout §2: "When both
        // client_id and id_token_hint are present, the OP MUST verify that the Client Identifier
        // matches the one used when issuing the ID Token").
        var clientID = parameters["client_id"]
        if let hint {
            if let clientID, !hint.audience.contains(clientID) {
                throw AuthorizationPageError("The client_id does not match the id_token_hint.")
            }
            if clientID == nil, hint.audience.count == 1 { clientID = hint.audience[0] }
        }
        var client: Client?
        if let clientID {
            guard let found = try await clients.enabledClient(id: clientID) else {
                throw AuthorizationPageError("The application is not registered here.", code: .invalidClient)
            }
            client = found
        }
        // RP-Initiated Logout §2: "The value MUST have been previously registered with the OP".
        var returnTo: String?
        if let uri = parameters["post_logout_redirect_uri"] {
            guard let client else {
                throw AuthorizationPageError("A post_logout_redirect_uri needs a client_id or an id_token_hint.")
            }
            guard client.postLogoutRedirectURIs.contains(where: { RedirectURI.identical($0, uri) }) else {
                throw AuthorizationPageError("The post_logout_redirect_uri is not registered for this application.",
                                             detail: "client \(client.id) sent an unregistered post_logout_redirect_uri")
            }
            returnTo = uri
        }
        let current = try await sessions.current(request)
        let confirmed = request.method == .POST && parameters["confirm"] == "yes"
        if confirmed {
            // The confirmation form is ours: a cross-site post of it is refused (an RP's own logout
            // request, which may be posted from its site, carries no confirmation).
            try browser.refuseCrossSite(request)
            guard let binding = Cookies.value(sessions.cookies.browser, in: request), let token = parameters["csrf_token"],
                  constantTimeEquals(Array(token.utf8), Array(interactions.logoutCSRFToken(browser: binding).utf8)) else {
                throw InteractionRejected(detail: "logout confirmation without a valid CSRF token")
            }
        } else if let current {
            // The hint proves the request comes from the client the session signed in to.
            let hintMatches = hint.map { hint in
                hint.sessionID.map { $0 == current.session.sid } ?? (hint.subject == current.user.subject)
            } ?? false
            if !hintMatches { return confirmationPage(parameters: parameters, client: client, request: request) }
        }
        var headers = HTTPHeaders()
        if let current {
            // The access tokens issued in the session, and the tokens exchanged from them, end with it.
            try await sessions.end(current.digest)
            revocations.didRevoke(.session(current.session.sid))
            // The refresh tokens issued in this session end with it.
            let revoked = try await refreshTokens.revokeFamilies(sid: current.session.sid, reason: "logout")
            revocations.didRevoke(revoked.accessTokens)
            audit.record(.logout, ["sub": current.user.subject, "sid": current.session.sid, "client_id": client?.id ?? "",
                                   "families_revoked": "\(revoked.families)"])
        }
        if Cookies.value(sessions.cookies.session, in: request) != nil {
            headers.add(name: "Set-Cookie", value: sessions.cookies.clearCookie(sessions.cookies.session))
        }
        if let returnTo {
            var back: [(String, String)] = []
            // RP-Initiated Logout §3: "the OP MUST ... include the state value ... if the RP included it".
            if let state = parameters["state"] { back.append(("state", state)) }
            return BrowserResponses.redirect(RedirectURI.adding(back, to: returnTo), headers: headers)
        }
        return Pages.signedOut(headers: headers)
    }

    /// Asks the person to confirm; the form carries the request's parameters back.
    private func confirmationPage(parameters: AuthorizationParameters, client: Client?, request: HTTPRequest) -> HTTPResponse {
        var headers = HTTPHeaders()
        let binding = interactions.browserBinding(request, headers: &headers)
        let fields = ["id_token_hint", "client_id", "post_logout_redirect_uri", "state"].compactMap { name in
            parameters[name].map { (name: name, value: $0) }
        }
        return Pages.logoutConfirmation(LogoutPageModel(csrfToken: interactions.logoutCSRFToken(browser: binding), fields: fields,
                                                        clientName: client.map(BrowserResponses.displayName)), headers: headers)
    }
}
