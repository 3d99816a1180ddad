import HTTPServer
import OAuth

extension ClientService {
    /// The form of a client-authenticated endpoint (token, revocation, introspection): RFC 6749
    /// §3.2, RFC 7009 §2.1 and RFC 7662 §2.1 all take an HTTP POST with an
    /// `application/x-www-form-urlencoded` body, decoded strictly.
    static func form(_ request: HTTPRequest, endpoint: String) throws -> TokenRequest {
        guard request.method == .POST else { throw OAuthError.invalidRequest("The \(endpoint) endpoint accepts only POST.") }
        guard request.hasFormBody else {
            throw OAuthError.invalidRequest("The request body must be application/x-www-form-urlencoded.")
        }
        return try TokenRequest(body: request.body)
    }

    /// Authenticates the client of a token, revocation or introspection request (RFC 6749 §2.3).
    /// A throttled failure carries the `Retry-After` the client is told.
    func authenticate(_ request: HTTPRequest, form: TokenRequest, audit: AuditLog) async throws -> AuthenticatedClient {
        let authentication = ClientAuthenticationRequest(
            authorization: request.headers["Authorization"], parameters: form.parameters, sourceAddress: request.remoteAddress)
        do {
            return try await authenticator.authenticate(authentication)
        } catch let error as OAuthError where error.code == .invalidClient {
            // The id the request claimed, if readable: never the secret.
            let claimed = form["client_id"] ?? (try? request.headers["Authorization"].flatMap { try BasicCredentials.parse(authorization: $0) })??.clientID
            audit.record(.clientAuthenticationFailed, ["client_id": claimed.map { String($0.prefix(128)) } ?? "", "detail": error.detail ?? ""])
            if let wait = authenticator.retryAfter(for: authentication) {
                throw ThrottledFailure(error: error, retryAfter: AuthenticationThrottle.retryAfterSeconds(wait))
            }
            throw error
        }
    }

    /// The client of a token, revocation or introspection request if it can be authenticated from
    /// memory alone (a secret already verified, a registration held in memory), else nil; for answers
    /// on the event-loop thread.
    func authenticateImmediately(_ request: HTTPRequest, form: TokenRequest) -> AuthenticatedClient? {
        authenticator.authenticateImmediately(ClientAuthenticationRequest(
            authorization: request.headers["Authorization"], parameters: form.parameters, sourceAddress: request.remoteAddress))
    }
}
