import Foundation
import HTTPServer
import JOSE
import OAuth

/// The server-side continuation of one authorization request while the person signs in or
/// consents (an interaction), and the CSRF binding of the forms that continue it.
///
/// The browser holds the interaction's random id (in the form) and a browser-binding cookie;
/// storage holds the digest of each. A form post is accepted only with both, plus a CSRF token
/// derived from them, so a form cannot be replayed from another browser, and the request that
/// continues is never taken from the post itself.
struct PendingInteractions: Sendable {
    let store: any InteractionStore
    let cookies: Cookies
    /// The key of the forms' CSRF tokens (derived from the key-encryption key).
    let csrfKey: [UInt8]

    /// How long a person has to sign in and consent before the request must start over.
    static let lifetime: TimeInterval = 600

    /// An interaction named by a form or query, checked against the browser that presents it.
    struct Bound: Sendable {
        let id: String
        let digest: [UInt8]
        let browser: String
        let stored: StoredInteraction
        let client: Client
    }

    /// A new interaction for `authorization`: its id, its form's CSRF token, and the cookie headers
    /// that bind it to this browser.
    func start(_ authorization: AuthorizationRequest, request: HTTPRequest, now: Date = Date()) async throws
        -> (id: String, digest: [UInt8], csrf: String, headers: HTTPHeaders) {
        var headers = HTTPHeaders()
        let browser = browserBinding(request, headers: &headers)
        let id = LoginSession.newSecret()
        let digest = TokenDigest.of(id)
        try await store.createInteraction(digest: digest, browserDigest: TokenDigest.of(browser), request: authorization,
                                          expiresAt: now.addingTimeInterval(Self.lifetime))
        return (id, digest, csrfToken(interaction: id, browser: browser), headers)
    }

    /// The browser-binding cookie the request has, or a new one (its `Set-Cookie` added to `headers`).
    func browserBinding(_ request: HTTPRequest, headers: inout HTTPHeaders) -> String {
        if let existing = Cookies.value(cookies.browser, in: request), existing.utf8.count == 43 { return existing }
        let browser = LoginSession.newSecret()
        headers.add(name: "Set-Cookie", value: cookies.setCookie(cookies.browser, browser, maxAge: nil))
        return browser
    }

    /// Finds the interaction `id` and checks that this browser started it and, when `requireCSRF`,
    /// that the form carried the right token; the client must still exist and be enabled.
    func bound(id: String?, csrfToken: String?, request: HTTPRequest, requireCSRF: Bool,
               client: (String) async throws -> Client?) async throws -> Bound {
        guard let id, id.utf8.count == 43 else { throw InteractionRejected(detail: "no or malformed interaction id") }
        guard let browser = Cookies.value(cookies.browser, in: request) else { throw InteractionRejected(detail: "no browser cookie") }
        let digest = TokenDigest.of(id)
        guard let stored = try await store.interaction(digest: digest) else { throw InteractionRejected(detail: "unknown or expired interaction") }
        guard constantTimeEquals(TokenDigest.of(browser), stored.browserDigest) else {
            throw InteractionRejected(detail: "interaction started by another browser")
        }
        if requireCSRF {
            guard let csrfToken, constantTimeEquals(Array(csrfToken.utf8), Array(self.csrfToken(interaction: id, browser: browser).utf8)) else {
                throw InteractionRejected(detail: "missing or wrong CSRF token")
            }
        }
        guard let found = try await client(stored.request.clientID) else { throw InteractionRejected(detail: "client gone or disabled") }
        return Bound(id: id, digest: digest, browser: browser, stored: stored, client: found)
    }

    /// Records who signed in during the interaction.
    func attachLogin(_ digest: [UInt8], userID: UUID, sessionDigest: [UInt8]) async throws {
        try await store.attachLogin(interactionDigest: digest, userID: userID, sessionDigest: sessionDigest)
    }

    /// Ends the interaction; refuses when another request ended it first (one interaction completes once).
    func finish(_ digest: [UInt8]) async throws {
        guard try await store.finishInteraction(digest: digest) else { throw InteractionRejected(detail: "interaction completed twice") }
    }

    /// The synchronizer token of an interaction's forms: an HMAC of the interaction id and the
    /// browser-binding cookie.
    func csrfToken(interaction: String, browser: String) -> String {
        Base64URL.encode(HMACSHA256.authenticate(Array("interaction:\(interaction):\(browser)".utf8), key: csrfKey))
    }

    /// The token of the logout confirmation form, bound to the browser.
    func logoutCSRFToken(browser: String) -> String {
        Base64URL.encode(HMACSHA256.authenticate(Array("logout:\(browser)".utf8), key: csrfKey))
    }
}
