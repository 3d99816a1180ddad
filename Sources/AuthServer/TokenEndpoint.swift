import Foundation
import HTTPServer
import OAuth

/// `POST /token` (RFC 6749 §3.2): a straight list of named checks, then one grant.
struct TokenEndpoint: Sendable {
    let clients: ClientService
    let keys: KeyService
    let clientCredentials: ClientCredentialsGrant
    let authorizationCode: AuthorizationCodeGrant
    let refreshToken: RefreshTokenGrant
    let logger: Logger
    let audit: AuditLog
    let metrics: Metrics
    let limits: RateLimits

    static let path = "/token"

    /// The grant types this server implements; discovery lists the same.
    static let supportedGrantTypes: [Client.GrantType] = [.authorizationCode, .clientCredentials, .refreshToken]

    func token(_ request: HTTPRequest) async -> HTTPResponse {
        let source = SourceAddressKey.of(request.remoteAddress)
        return await ErrorResponses.json("token request", request, logger: logger, authorizationScheme: Self.authorizationScheme(request)) {
            // A source whose requests keep failing (guessing secrets, codes or refresh tokens) is slowed down.
            try limits.check(limits.tokenFailures, key: source)
            do {
                return try await handle(request)
            } catch {
                let code = ErrorResponses.answer(error).error.code
                if !(error is RateLimited) && code != .serverError && code != .temporarilyUnavailable {
                    _ = limits.tokenFailures.take(source)
                }
                throw error
            }
        }
    }

    /// The answer on the event-loop thread for a `client_credentials` request whose client is
    /// authenticated from memory (its secret already verified): the grant needs no storage, only the
    /// registration and the signing keys. Anything else (another grant, an error to report, a limit
    /// reached) returns nil and takes ``token(_:)``, which answers the same.
    func tokenImmediately(_ request: HTTPRequest) -> HTTPResponse? {
        guard request.method == .POST, request.hasFormBody, let form = try? TokenRequest(body: request.body),
              form["grant_type"] == Client.GrantType.clientCredentials.rawValue else { return nil }
        let source = SourceAddressKey.of(request.remoteAddress)
        guard limits.tokenFailures.retryAfter(source) == nil,
              let client = clients.authenticateImmediately(request, form: form)?.client,
              client.grantTypes.contains(.clientCredentials),
              // A request the grant would refuse is left to the asynchronous path, which reports it.
              (try? ClientCredentialsGrant.scope(requested: form["scope"], client: client)) != nil,
              (try? ClientCredentialsGrant.audience(resources: form.resources, audience: form["audience"], client: client)) != nil,
              // A refused take consumes nothing: the asynchronous path then refuses, audited.
              limits.token.take(client.id) == nil,
              let response = try? clientCredentials.issue(form, client: client, ring: keys.current.ring) else { return nil }
        return respond(response, client: client, grantType: .clientCredentials)
    }

    private func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        // RFC 6749 §3.2: "The client MUST use the HTTP "POST" method when making access token requests",
        // with parameters "using the "application/x-www-form-urlencoded" format" (§4.4.2).
        let form = try ClientService.form(request, endpoint: "token")
        guard let grantTypeName = form["grant_type"] else {
            throw OAuthError.invalidRequest("The grant_type parameter is missing.")
        }
        // RFC 6749 §5.2 unsupported_grant_type: "The authorization grant type is not supported by the authorization server."
        guard let grantType = Client.GrantType(rawValue: grantTypeName), Self.supportedGrantTypes.contains(grantType) else {
            throw OAuthError(.unsupportedGrantType, "The grant type is not supported.", detail: "grant_type \(grantTypeName.prefix(64))")
        }
        let client = try await clients.authenticate(request, form: form, audit: audit).client
        try limits.enforce(limits.token, key: client.id)
        // RFC 6749 §5.2 unauthorized_client: "The authenticated client is not authorized to use this authorization grant type."
        guard client.grantTypes.contains(grantType) else {
            throw OAuthError(.unauthorizedClient, "The client is not allowed to use this grant type.",
                             detail: "client \(client.id) lacks \(grantType.rawValue)")
        }
        let ring = keys.current.ring
        let response: TokenResponse
        switch grantType {
        case .clientCredentials: response = try clientCredentials.issue(form, client: client, ring: ring)
        case .authorizationCode: response = try await authorizationCode.redeem(form, client: client, ring: ring)
        case .refreshToken: response = try await refreshToken.refresh(form, client: client, ring: ring)
        }
        return respond(response, client: client, grantType: grantType)
    }

    /// The token response (RFC 6749 §5.1), audited and counted.
    private func respond(_ response: TokenResponse, client: Client, grantType: Client.GrantType) -> HTTPResponse {
        let claims = response.accessToken.claims
        audit.record(.tokenIssued, ["client_id": client.id, "grant_type": grantType.rawValue, "sub": claims.subject, "jti": claims.jwtID,
                                    "aud": claims.audience.joined(separator: " "), "refresh_token": response.refreshToken == nil ? "no" : "yes"])
        metrics.tokenIssued(grantType: grantType.rawValue)
        return HTTPResponse(status: .ok, headers: ErrorResponses.noStoreJSON, body: Array(response.json.utf8))
    }

    /// The scheme for `WWW-Authenticate` on `invalid_client`: Basic is the only
    /// Authorization scheme the token endpoint accepts, so any header used is answered with it.
    static func authorizationScheme(_ request: HTTPRequest) -> String? {
        request.headers["Authorization"] == nil ? nil : "Basic"
    }
}
