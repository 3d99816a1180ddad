import Foundation
import HTTPServer
import OAuth

/// The browser's login session: a random cookie value, kept in storage by its digest.
struct LoginSessions: Sendable {
    let store: any LoginSessionStore
    let cookies: Cookies
    /// How long a session lasts from sign-in.
    let lifetime: TimeInterval

    /// A live session with its (enabled) user, as the request's cookie names it.
    struct Current: Sendable {
        let session: LoginSession
        let user: User
        let digest: [UInt8]
    }

    /// The live session named by the request's cookie, with its enabled user.
    func current(_ request: HTTPRequest) async throws -> Current? {
        guard let value = Cookies.value(cookies.session, in: request), value.utf8.count <= 128 else { return nil }
        let digest = TokenDigest.of(value)
        guard let found = try await store.session(digest: digest), !found.user.isDisabled else { return nil }
        return Current(session: found.session, user: found.user, digest: digest)
    }

    /// Starts a new session for `user`, never reusing a cookie value the browser had (against
    /// session fixation); returns the cookie value to set and the session.
    func create(for user: User, now: Date = Date()) async throws -> (cookie: String, current: Current) {
        let cookie = LoginSession.newSecret()
        let digest = TokenDigest.of(cookie)
        let session = LoginSession(sid: LoginSession.newSID(), userID: user.id,
                                   authTime: Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down)),
                                   expiresAt: now.addingTimeInterval(lifetime))
        try await store.createSession(session, digest: digest)
        return (cookie, Current(session: session, user: user, digest: digest))
    }

    /// Ends the session the request's cookie names, if any (a new login replaces it).
    func endPrevious(_ request: HTTPRequest) async throws {
        guard let previous = Cookies.value(cookies.session, in: request), previous.utf8.count <= 128 else { return }
        try await store.endSession(digest: TokenDigest.of(previous))
    }

    /// Ends the session with this digest.
    func end(_ digest: [UInt8]) async throws {
        try await store.endSession(digest: digest)
    }

    /// The `Set-Cookie` value of a new session.
    func setCookie(_ value: String) -> String {
        cookies.setCookie(cookies.session, value, maxAge: Int(lifetime))
    }
}
