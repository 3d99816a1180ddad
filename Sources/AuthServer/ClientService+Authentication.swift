import HTTPServer
import OAuth

extension ClientService {
    /// Authenticates the client of a token, revocation or introspection request (RFC 6749 §2.3).
    /// A throttled failure carries the `Retry-After` the client is told.
    func authenticate(_ request: HTTPRequest, form: TokenRequest) async throws -> AuthenticatedClient {
        let authentication = ClientAuthenticationRequest(
            authorization: request.headers["Authorization"], parameters: form.parameters, sourceAddress: request.remoteAddress)
        do {
            return try await authenticator.authenticate(authentication)
        } catch let error as OAuthError where error.code == .invalidClient {
            if let wait = authenticator.retryAfter(for: authentication) {
                throw ThrottledFailure(error: error, retryAfter: AuthenticationThrottle.retryAfterSeconds(wait))
            }
            throw error
        }
    }
}
