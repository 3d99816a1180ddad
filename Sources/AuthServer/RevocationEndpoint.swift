import Foundation
import HTTPServer
import OAuth

/// `POST /revoke` (RFC 7009): a client revokes one of its tokens (``TokenRevocation``).
struct RevocationEndpoint: Sendable {
    let clients: ClientService
    let keys: KeyService
    let revocation: TokenRevocation
    let logger: Logger
    let audit: AuditLog
    let metrics: Metrics
    let limits: RateLimits

    static let path = "/revoke"

    func revoke(_ request: HTTPRequest) async -> HTTPResponse {
        await ErrorResponses.json("revocation", request, logger: logger, authorizationScheme: TokenEndpoint.authorizationScheme(request)) {
            // RFC 7009 §2.1: "The client requests the revocation ... by sending ... an HTTP POST request".
            let form = try ClientService.form(request, endpoint: "revocation")
            let client = try await clients.authenticate(request, form: form, audit: audit).client
            try limits.enforce(limits.revocation, key: client.id)
            guard let token = form["token"] else { throw OAuthError.invalidRequest("The token parameter is missing.") }
            switch try await revocation.revoke(token, client: client, keys: keys.current.ring.publishedKeys) {
            case .familyRevoked(let family):
                audit.record(.familyRevoked, ["client_id": client.id, "family": family.uuidString.lowercased(), "reason": "revoked by the client"])
                metrics.revoked("family")
            case .accessTokenRevoked(let jti):
                audit.record(.tokenRevoked, ["client_id": client.id, "jti": jti])
                metrics.revoked("access_token")
            case .nothing:
                break
            }
            return HTTPResponse(status: .ok, headers: HTTPHeaders([("Cache-Control", "no-store"), ("Pragma", "no-cache")]))
        }
    }
}
