import Foundation
import OAuth

/// Issues authorization codes at the end of a browser login and builds the redirects that carry
/// them, or an error, back to the client (RFC 6749 §4.1.2, RFC 9207).
struct CodeIssuance: Sendable {
    let store: any AuthorizationCodeStore
    let issuer: Issuer
    /// How long a code may be redeemed (RFC 6749 §4.1.2: at most 10 minutes is RECOMMENDED).
    let lifetime: TimeInterval

    /// Issues a code for the request and session and returns the redirect location.
    func issue(_ authorization: AuthorizationRequest, session: LoginSession, now: Date = Date()) async throws -> String {
        let code = AuthorizationCode.generate()
        let record = AuthorizationCode(
            clientID: authorization.clientID, userID: session.userID, redirectURI: authorization.redirectURI,
            codeChallenge: authorization.codeChallenge, scopes: authorization.scopes, audiences: authorization.audiences,
            nonce: authorization.nonce, sid: session.sid, authTime: session.authTime, expiresAt: now.addingTimeInterval(lifetime))
        try await store.createCode(record, digest: TokenDigest.of(code))
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
}
