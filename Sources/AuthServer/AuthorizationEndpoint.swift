import Foundation
import HTTPServer
import OAuth

/// `GET` and `POST /authorize` (RFC 6749 §4.1.1, OIDC Core §3.1.2).
struct AuthorizationEndpoint: Sendable {
    let login: BrowserLogin
    let logger: Logger

    static let path = "/authorize"

    func authorize(_ request: HTTPRequest) async -> HTTPResponse {
        if let limited = login.rateLimitedPage(request) { return limited }
        // Stage one: until the client and its redirect URI are known good, errors are shown
        // to the person and never redirected (RFC 6749 §4.1.2.1).
        let parameters: AuthorizationParameters
        let client: Client
        let redirectURI: String
        do {
            parameters = try AuthorizationParameters(encoded: try BrowserLogin.parameterBytes(request))
            let clientID = try parameters.clientID()
            guard let found = try await login.client(id: clientID) else {
                // RFC 6749 §4.1.2.1: an invalid client identifier is never redirected; the page names invalid_client.
                throw AuthorizationPageError("The application is not registered here.", detail: "unknown or disabled client \(clientID)",
                                             code: .invalidClient)
            }
            client = found
            redirectURI = try parameters.redirectURI(for: client)
        } catch {
            return BrowserLogin.errorPage(error, logger: logger, remote: request.remoteAddress)
        }
        // Stage two: every later error goes back to the client, with its state and our issuer.
        do {
            var authorization = try parameters.validate(client: client, redirectURI: redirectURI)
            // An access token always has an audience (RFC 9068 §2.2); without a resource server
            // named, it is for the UserInfo endpoint.
            if authorization.audiences.isEmpty { authorization.audiences = [login.issuer.endpoint(UserInfoEndpoint.path)] }
            return try await login.proceed(authorization, client: client, request: request)
        } catch {
            let oauthError = OAuthErrorResponse.map(error)
            logRefusal(oauthError, client: client, request: request)
            return BrowserLogin.redirect(login.errorLocation(oauthError, redirectURI: redirectURI, state: parameters.echoableState))
        }
    }

    private func logRefusal(_ error: OAuthError, client: Client, request: HTTPRequest) {
        let fields: KeyValuePairs<String, String> = ["error": error.code.rawValue, "client_id": client.id, "detail": error.detail ?? "",
                                                     "remote": request.remoteAddress]
        switch error.code {
        case .serverError: logger.error("authorization request failed", fields)
        case .loginRequired, .consentRequired: logger.debug("authorization request needs interaction", fields)
        default: logger.info("authorization request refused", fields)
        }
    }
}
