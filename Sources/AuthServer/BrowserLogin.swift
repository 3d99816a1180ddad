import Foundation
import HTTPServer
import JOSE
import OAuth
import PasswordHashing
import Postgres
import PostgresStorage
import Synchronization

/// The browser side of the authorization-code flow: login sessions, pending authorization
/// requests (interactions), the login and consent decisions, and the issuing of codes.
/// The endpoints (`/authorize`, `/login`, `/consent`, `/logout`) are thin adapters on it.
///
/// An interaction is the server-side continuation of one authorization request while the
/// person signs in or consents. The browser holds its random id (in the form) and a
/// browser-binding cookie; storage holds the hash of each. A form post is accepted only
/// with both, plus a CSRF token derived from them, so a form cannot be replayed from
/// another browser, and the request that continues is never taken from the post itself.
final class BrowserLogin: Sendable {
    let store: PostgresLoginStore
    let users: PostgresUserStore
    let clients: ClientService
    let issuer: Issuer
    let cookies: Cookies
    let codeTTL: TimeInterval
    let sessionTTL: TimeInterval
    let logger: Logger
    let limits: RateLimits
    /// Failed logins: the 5th failure for an account from one source address, or the 20th from a
    /// source (which many people may share behind a NAT), starts a backoff of 1 s for that source,
    /// doubling with each further failure up to 5 minutes. The 10th failure for an account from
    /// anywhere backs off every browser that has not signed in to that account before; a browser
    /// that has (it holds the account's known-device cookie) is never held back by others' failures.
    let throttle = AuthenticationThrottle(freeFailures: 4, addressFreeFailures: 19, keyFreeFailures: 9,
                                          initialBackoff: .seconds(1), maximumBackoff: .seconds(300))
    /// Argon2id for passwords: a pool of its own, so that a flood of logins can never take the
    /// verification of client secrets (machine authentication) with it.
    let argon2: Argon2Pool
    /// Threads and queue of ``argon2``: one core's worth, and a queue that answers a flood with 503 quickly.
    static let argon2Threads = 1
    static let argon2MaxQueued = 16
    /// How long a browser stays known for an account after signing in (the longest cookie lifetime browsers keep).
    static let knownDeviceLifetime = 400 * 86_400
    private let deviceKey: [UInt8]
    private let csrfKey: [UInt8]
    private let argon2Parameters: Argon2Parameters
    private let dummyHash = Mutex<String?>(nil)

    /// How long a person has to sign in and consent before the request must start over.
    static let interactionTTL: TimeInterval = 600
    /// The one message of every failed login: it does not say whether the user exists.
    static let invalidCredentials = "Invalid username or password."

    init(pool: PostgresPool, clients: ClientService, issuer: Issuer, kek: KeyEncryptionKey, codeTTL: TimeInterval,
         sessionTTL: TimeInterval, argon2Parameters: Argon2Parameters, logger: Logger, limits: RateLimits) {
        self.limits = limits
        self.store = PostgresLoginStore(pool: pool)
        self.users = PostgresUserStore(pool: pool)
        self.clients = clients
        self.issuer = issuer
        self.cookies = Cookies(isSecure: issuer.isHTTPS)
        self.codeTTL = codeTTL
        self.sessionTTL = sessionTTL
        self.csrfKey = kek.derivedKey(purpose: "browser form csrf tokens")
        self.deviceKey = kek.derivedKey(purpose: "known browser devices")
        self.argon2 = Argon2Pool(threads: Self.argon2Threads, maxQueued: Self.argon2MaxQueued)
        self.argon2Parameters = argon2Parameters
        self.logger = logger
    }

    /// The 429 page when this address has made too many browser requests, else nil.
    func rateLimitedPage(_ request: HTTPRequest) -> HTTPResponse? {
        do {
            try limits.enforce(limits.browser, key: SourceAddressKey.of(request.remoteAddress))
            return nil
        } catch {
            return Pages.error(status: .tooManyRequests, title: "Too many requests",
                               message: "Too many requests came from your network. Try again in \(error.retryAfter) second\(error.retryAfter == 1 ? "" : "s").",
                               headers: HTTPHeaders([("Retry-After", "\(error.retryAfter)")]))
        }
    }

    /// Whether a state-changing form post comes from another site, as far as the browser says:
    /// a second line of defence behind the CSRF token (OWASP's origin verification).
    ///
    /// `Origin` decides when it names an origin. Our pages set `Referrer-Policy: no-referrer`, so
    /// browsers send `Origin: null` for our own forms; then `Sec-Fetch-Site` decides (`same-origin`
    /// only), and without it `Referer`. A request carrying none of them (an old browser, a
    /// non-browser client) is left to the CSRF token.
    func isCrossSite(_ request: HTTPRequest) -> Bool {
        if let origin = request.headers["Origin"]?.trimmingCharacters(in: .whitespaces), origin != "null" {
            return origin.lowercased() != issuer.origin
        }
        if let site = request.headers["Sec-Fetch-Site"]?.trimmingCharacters(in: .whitespaces).lowercased() {
            return site != "same-origin"
        }
        if let referer = request.headers["Referer"] {
            let lowered = referer.lowercased()
            return !(lowered == issuer.origin || lowered.hasPrefix(issuer.origin + "/") || lowered.hasPrefix(issuer.origin + "?"))
        }
        return false
    }

    /// The page refusing a cross-site form post.
    static func crossSitePage() -> HTTPResponse {
        Pages.error(status: .forbidden, title: "This form cannot be accepted",
                    message: "The form was not sent from this site. Go back to the application and sign in again.",
                    code: OAuthError.Code.invalidRequest.rawValue)
    }

    // MARK: - Clients and sessions

    /// The client, when it exists and is enabled.
    func client(id: String) async throws -> Client? {
        guard let client = try await clients.registrations.credentials(clientID: id)?.client, !client.isDisabled else { return nil }
        return client
    }

    /// The live session named by the request's cookie, with its (enabled) user.
    func currentSession(_ request: HTTPRequest) async throws -> (session: LoginSession, user: User, idHash: [UInt8])? {
        guard let value = Cookies.value(cookies.session, in: request), value.utf8.count <= 128 else { return nil }
        let idHash = AuthorizationCode.hash(value)
        guard let found = try await store.session(idHash: idHash), !found.user.isDisabled else { return nil }
        return (found.session, found.user, idHash)
    }

    /// Whether the user must (still) consent: not for first-party clients; otherwise when
    /// `prompt=consent` asks, or the scope is not within what was allowed before.
    func needsConsent(_ request: AuthorizationRequest, client: Client, userID: UUID) async throws -> Bool {
        if client.skipsConsent { return false }
        if request.has(.consent) { return true }
        return !request.scope.isSubset(of: try await store.consentedScope(userID: userID, clientID: client.id))
    }

    // MARK: - Deciding what an authorization request needs

    /// Continues a validated request: a code at once when a live session and consent
    /// suffice (single sign-on), else the login or consent page. Throws redirectable errors.
    func proceed(_ authorization: AuthorizationRequest, client: Client, request: HTTPRequest) async throws -> HTTPResponse {
        let now = Date()
        let current = try await currentSession(request)
        guard let current, !authorization.requiresFreshLogin(authTime: current.session.authTime, now: now) else {
            // OIDC Core §3.1.2.1 prompt=none: "The Authorization Server MUST NOT display any
            // authentication or consent user interface pages. An error is returned if an End-User is
            // not already authenticated".
            if authorization.has(.none) {
                throw OAuthError(.loginRequired, "The user is not signed in.")
            }
            return try await startInteraction(authorization, client: client, request: request, signedIn: nil)
        }
        if try await needsConsent(authorization, client: client, userID: current.user.id) {
            if authorization.has(.none) {
                throw OAuthError(.consentRequired, "The user has not consented to this client's request.")
            }
            return try await startInteraction(authorization, client: client, request: request, signedIn: current)
        }
        let location = try await issueCode(authorization, session: current.session)
        logger.debug("authorization code issued", ["client_id": client.id, "sub": current.user.subject, "sso": "true"])
        return Self.redirect(location)
    }

    /// Stores the request as an interaction and shows the login page (or, when signed in
    /// already, the consent page) for it.
    private func startInteraction(_ authorization: AuthorizationRequest, client: Client, request: HTTPRequest,
                                  signedIn: (session: LoginSession, user: User, idHash: [UInt8])?) async throws -> HTTPResponse {
        var headers = HTTPHeaders()
        let browser: String
        if let existing = Cookies.value(cookies.browser, in: request), existing.utf8.count == 43 {
            browser = existing
        } else {
            browser = LoginSession.newSecret()
            headers.add(name: "Set-Cookie", value: cookies.setCookie(cookies.browser, browser, maxAge: nil))
        }
        let interaction = LoginSession.newSecret()
        let interactionHash = AuthorizationCode.hash(interaction)
        try await store.createInteraction(idHash: interactionHash, browserHash: AuthorizationCode.hash(browser), request: authorization,
                                          expiresAt: Date().addingTimeInterval(Self.interactionTTL))
        let csrf = csrfToken(interaction: interaction, browser: browser)
        if let signedIn {
            try await store.attachLogin(interactionHash: interactionHash, userID: signedIn.user.id, sessionHash: signedIn.idHash)
            return Pages.consent(consentModel(interaction: interaction, csrf: csrf, client: client, user: signedIn.user, scopes: authorization.scopes),
                                 headers: headers)
        }
        return Pages.login(LoginPageModel(interaction: interaction, csrfToken: csrf, clientName: Self.displayName(client),
                                          username: authorization.loginHint ?? ""), headers: headers)
    }

    func consentModel(interaction: String, csrf: String, client: Client, user: User, scopes: [String]) -> ConsentPageModel {
        ConsentPageModel(interaction: interaction, csrfToken: csrf, clientName: Self.displayName(client), clientID: client.id,
                         username: user.username, scopes: scopes)
    }

    static func displayName(_ client: Client) -> String { client.name.isEmpty ? client.id : client.name }

    // MARK: - Interactions from form posts

    /// An interaction named by a form or query, checked against the browser that presents it.
    struct BoundInteraction {
        let id: String
        let idHash: [UInt8]
        let browser: String
        let stored: PostgresLoginStore.Interaction
        let client: Client
    }

    /// Why a form post cannot continue: shown as an error page, never redirected (nothing
    /// in the post is trusted enough to choose where to send the browser).
    struct InteractionRejected: Error {
        let detail: String
    }

    /// Finds the interaction `id` and checks that this browser started it and, when
    /// `csrfToken` is given, that the form carried the right token.
    func boundInteraction(id: String?, csrfToken: String?, request: HTTPRequest, requireCSRF: Bool) async throws -> BoundInteraction {
        guard let id, id.utf8.count == 43 else { throw InteractionRejected(detail: "no or malformed interaction id") }
        guard let browser = Cookies.value(cookies.browser, in: request) else { throw InteractionRejected(detail: "no browser cookie") }
        let idHash = AuthorizationCode.hash(id)
        guard let stored = try await store.interaction(idHash: idHash) else { throw InteractionRejected(detail: "unknown or expired interaction") }
        guard constantTimeEquals(AuthorizationCode.hash(browser), stored.browserHash) else {
            throw InteractionRejected(detail: "interaction started by another browser")
        }
        if requireCSRF {
            guard let csrfToken, constantTimeEquals(Array(csrfToken.utf8), Array(self.csrfToken(interaction: id, browser: browser).utf8)) else {
                throw InteractionRejected(detail: "missing or wrong CSRF token")
            }
        }
        guard let client = try await client(id: stored.request.clientID) else { throw InteractionRejected(detail: "client gone or disabled") }
        return BoundInteraction(id: id, idHash: idHash, browser: browser, stored: stored, client: client)
    }

    /// The synchronizer token of an interaction's forms: an HMAC of the interaction id and
    /// the browser-binding cookie under a key derived from the key-encryption key.
    func csrfToken(interaction: String, browser: String) -> String {
        Base64URL.encode(HMACSHA256.authenticate(Array("interaction:\(interaction):\(browser)".utf8), key: csrfKey))
    }

    /// The token of the logout confirmation form, bound to the browser.
    func logoutCSRFToken(browser: String) -> String {
        Base64URL.encode(HMACSHA256.authenticate(Array("logout:\(browser)".utf8), key: csrfKey))
    }

    // MARK: - Login

    enum LoginOutcome {
        case success(User)
        case failure
        case throttled(retryAfter: Int)
    }

    /// Checks a username and password. Every failure takes about one Argon2id verification:
    /// an unknown username is verified against a dummy hash, and a disabled user's password is
    /// verified before the refusal, so the time does not tell which usernames exist.
    ///
    /// Throttling never lets one person lock out another: failures count per source address (an
    /// IPv6 /64 is one source) and per account from that source; the account's failures from every
    /// source count only against browsers that have never signed in to it (``isKnownDevice(_:userID:)``).
    func checkCredentials(username: String, password: String, request: HTTPRequest) async throws -> LoginOutcome {
        let sourceAddress = request.remoteAddress
        let account = "user:" + username.lowercased().prefix(User.maximumUsernameLength)
        if let wait = throttle.retryAfter(key: account, sourceAddress: sourceAddress, keyWide: false) {
            return .throttled(retryAfter: AuthenticationThrottle.retryAfterSeconds(wait))
        }
        let candidate = User.usernameProblem(username) == nil && !password.isEmpty && password.utf8.count <= User.maximumPasswordBytes
            ? try await users.credentials(username: username) : nil
        let isKnown = candidate.map { isKnownDevice(request, userID: $0.user.id) } ?? false
        if !isKnown, let wait = throttle.retryAfter(key: account, sourceAddress: sourceAddress, keyWide: true) {
            return .throttled(retryAfter: AuthenticationThrottle.retryAfterSeconds(wait))
        }
        // Passwords are hashed as their UTF-8 bytes, exactly as typed (as `tessera users` does).
        let matches: Bool
        do {
            if let candidate {
                matches = try await argon2.verify(password: Array(password.utf8), encoded: candidate.passwordHash)
            } else {
                _ = try await argon2.verify(password: Array(password.utf8.prefix(User.maximumPasswordBytes)), encoded: try await dummyHashValue())
                matches = false
            }
        } catch let error as Argon2PoolError {
            throw OAuthError(.temporarilyUnavailable, OAuthError.temporarilyUnavailable.errorDescription, detail: "login argon2 pool: \(error)")
        }
        guard let candidate, matches, !candidate.user.isDisabled else {
            throttle.recordFailure(key: account, sourceAddress: sourceAddress)
            return .failure
        }
        throttle.recordSuccess(key: account, sourceAddress: sourceAddress)
        return .success(candidate.user)
    }

    // MARK: - Known devices

    /// A new known-device cookie value for `userID`: a random id and an HMAC binding it to the
    /// account, under a key derived from the key-encryption key. It proves only that this browser
    /// signed in to that account before; it grants nothing.
    func knownDeviceCookie(userID: UUID) -> String {
        let id = Base64URL.encode(SecureRandom.bytes(16))
        return id + "." + Base64URL.encode(HMACSHA256.authenticate(Array("known device:\(userID.uuidString.lowercased()):\(id)".utf8), key: deviceKey))
    }

    /// Whether the request carries a known-device cookie for `userID`.
    func isKnownDevice(_ request: HTTPRequest, userID: UUID) -> Bool {
        guard let value = Cookies.value(cookies.device, in: request), value.utf8.count <= 128 else { return false }
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let mac = Base64URL.decode(String(parts[1])) else { return false }
        let expected = HMACSHA256.authenticate(Array("known device:\(userID.uuidString.lowercased()):\(parts[0])".utf8), key: deviceKey)
        return constantTimeEquals(mac, expected)
    }

    private func dummyHashValue() async throws -> String {
        if let existing = dummyHash.withLock({ $0 }) { return existing }
        let made = try await argon2.hash(password: SecureRandom.bytes(32), parameters: argon2Parameters)
        return dummyHash.withLock { stored in
            if let stored { return stored }
            stored = made
            return made
        }
    }

    /// Starts a new session for `user` (never reusing a cookie value the browser had, against
    /// session fixation) and returns the cookie value and the session.
    func createSession(for user: User) async throws -> (cookie: String, session: LoginSession, idHash: [UInt8]) {
        let now = Date()
        let cookie = LoginSession.newSecret()
        let idHash = AuthorizationCode.hash(cookie)
        let session = LoginSession(sid: LoginSession.newSID(), userID: user.id, authTime: Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down)),
                                   expiresAt: now.addingTimeInterval(sessionTTL))
        try await store.createSession(session, idHash: idHash)
        return (cookie, session, idHash)
    }

    // MARK: - Codes and redirects

    /// Issues a code for the request and session and returns the redirect location.
    func issueCode(_ authorization: AuthorizationRequest, session: LoginSession) async throws -> String {
        let code = AuthorizationCode.generate()
        let record = AuthorizationCode(
            clientID: authorization.clientID, userID: session.userID, redirectURI: authorization.redirectURI,
            codeChallenge: authorization.codeChallenge, scopes: authorization.scopes, audiences: authorization.audiences,
            nonce: authorization.nonce, sid: session.sid, authTime: session.authTime, expiresAt: Date().addingTimeInterval(codeTTL))
        try await store.createCode(record, hash: AuthorizationCode.hash(code))
        var parameters = [("code", code)]
        if let state = authorization.state { parameters.append(("state", state)) }
        // RFC 9207 §2: "Authorization servers supporting this specification MUST provide their issuer
        // identifier to clients by adding the iss parameter to authorization responses".
        parameters.append(("iss", issuer.url))
        return RedirectURI.adding(parameters, to: authorization.redirectURI)
    }

    /// The error redirect of a validated redirect URI (RFC 6749 §4.1.2.1).
    func errorLocation(_ error: OAuthError, redirectURI: String, state: String?) -> String {
        RedirectURI.adding(RedirectURI.errorParameters(error, state: state, issuer: issuer.url), to: redirectURI)
    }

    /// A 303 to `location` (RFC 9700 §4.11: 303 so that a form post is never repeated at the client).
    static func redirect(_ location: String, headers extra: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var headers = HTTPHeaders([("Location", location), ("Cache-Control", "no-store"), ("Pragma", "no-cache"),
                                   ("Referrer-Policy", "no-referrer")])
        for field in extra { headers.add(name: field.name, value: field.value) }
        return HTTPResponse(status: .seeOther, headers: headers)
    }

    /// The error page for a request that cannot be answered at a redirect URI.
    static func errorPage(_ error: any Error, logger: Logger, remote: String) -> HTTPResponse {
        switch error {
        case let error as AuthorizationPageError:
            logger.info("authorization request refused", ["detail": error.detail ?? error.message, "remote": remote])
            return Pages.error(status: .badRequest, title: "This sign-in request cannot be completed",
                               message: error.message + " Go back to the application and try again.", code: error.code.rawValue)
        case is FormURLEncoded.DecodingError:
            logger.info("browser request refused", ["detail": "malformed parameters", "remote": remote])
            return Pages.error(status: .badRequest, title: "This request cannot be completed",
                               message: "The request is malformed.", code: OAuthError.Code.invalidRequest.rawValue)
        case let error as InteractionRejected:
            logger.info("browser form refused", ["detail": error.detail, "remote": remote])
            return Pages.error(status: .badRequest, title: "This sign-in request cannot be completed",
                               message: "This form has expired or was not sent from this browser. Go back to the application and sign in again.",
                               code: OAuthError.Code.invalidRequest.rawValue)
        default:
            let mapped = OAuthErrorResponse.map(error)
            if mapped.code == .temporarilyUnavailable {
                logger.warning("browser request refused", ["detail": mapped.detail ?? "", "remote": remote])
                return Pages.error(status: .serviceUnavailable, title: "Temporarily unavailable",
                                   message: "The sign-in service is temporarily unavailable. Try again in a moment.",
                                   code: mapped.code.rawValue, headers: HTTPHeaders([("Retry-After", "1")]))
            }
            if mapped.code == .serverError {
                logger.error("browser request failed", ["detail": mapped.detail ?? "", "remote": remote])
                return Pages.error(status: .internalServerError, title: "Something went wrong",
                                   message: "The server could not complete the request.", code: mapped.code.rawValue)
            }
            logger.info("browser request refused", ["error": mapped.code.rawValue, "detail": mapped.detail ?? "", "remote": remote])
            return Pages.error(status: .badRequest, title: "This request cannot be completed", message: mapped.sanitizedDescription,
                               code: mapped.code.rawValue)
        }
    }

    /// The parameters of a browser request: the query of a GET, the form body of a POST.
    static func parameterBytes(_ request: HTTPRequest) throws(AuthorizationPageError) -> [UInt8] {
        switch request.method {
        case .GET, .HEAD:
            return Array((request.query ?? "").utf8)
        case .POST:
            guard TokenEndpoint.isFormURLEncoded(request.headers["Content-Type"]) else {
                throw AuthorizationPageError("The form must be sent as application/x-www-form-urlencoded.")
            }
            return request.body
        default:
            throw AuthorizationPageError("This page accepts only GET and POST.")
        }
    }
}
