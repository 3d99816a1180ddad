import Foundation
import HTTPServer
import JOSE
import OAuth

/// `/.well-known/jwks.json` and the discovery documents
/// (`/.well-known/openid-configuration`, `/.well-known/oauth-authorization-server`).
struct WellKnownEndpoints: Sendable {
    let issuer: Issuer
    let keys: KeyService
    let maxAge: Int
    let discoveryBody: [UInt8]

    init(issuer: Issuer, keys: KeyService, maxAge: Int, mtlsBaseURL: String? = nil) {
        self.issuer = issuer
        self.keys = keys
        self.maxAge = maxAge
        self.discoveryBody = Self.discoveryDocument(issuer: issuer, mtlsBaseURL: mtlsBaseURL)
    }

    static let jwksPath = "/.well-known/jwks.json"

    func jwks(_ request: HTTPRequest) -> HTTPResponse {
        let snapshot = keys.current
        var headers = HTTPHeaders([
            ("Content-Type", "application/jwk-set+json"),
            ("Cache-Control", "public, max-age=\(maxAge)"),
            ("ETag", snapshot.jwksETag),
        ])
        // RFC 9110 §13.1.2: If-None-Match uses weak comparison; "*" matches any current representation.
        if let condition = request.headers["If-None-Match"], Self.matches(condition, etag: snapshot.jwksETag) {
            headers.remove(name: "Content-Type")
            return HTTPResponse(status: .notModified, headers: headers)
        }
        return HTTPResponse(status: .ok, headers: headers, body: snapshot.jwksBody)
    }

    func discovery(_ request: HTTPRequest) -> HTTPResponse {
        HTTPResponse(status: .ok, headers: HTTPHeaders([
            ("Content-Type", "application/json"),
            ("Cache-Control", "public, max-age=\(maxAge)"),
        ]), body: discoveryBody)
    }

    /// The metadata lists only what this server really implements (RFC 8414 §2, OIDC Discovery §3).
    static func discoveryDocument(issuer: Issuer, mtlsBaseURL: String? = nil) -> [UInt8] {
        var document: [String: any Sendable] = [
            // RFC 8414 §3.3: "The issuer value returned MUST be identical to the authorization server's issuer identifier"
            "issuer": issuer.url,
            "jwks_uri": issuer.endpoint(jwksPath),
            "token_endpoint": issuer.endpoint(TokenEndpoint.path),
            "grant_types_supported": TokenEndpoint.supportedGrantTypes.map(\.rawValue),
            "token_endpoint_auth_methods_supported": Client.AuthMethod.allCases.map(\.rawValue),
            "token_endpoint_auth_signing_alg_values_supported": JWSAlgorithm.allCases.map(\.rawValue),
            "authorization_endpoint": issuer.endpoint(AuthorizationEndpoint.path),
            "revocation_endpoint": issuer.endpoint(RevocationEndpoint.path),
            "revocation_endpoint_auth_methods_supported": Client.AuthMethod.allCases.map(\.rawValue),
            "introspection_endpoint": issuer.endpoint(IntrospectionEndpoint.path),
            // A resource server introspecting must prove who it is: "none" is not accepted.
            "introspection_endpoint_auth_methods_supported": Client.AuthMethod.allCases.filter { $0 != .none }.map(\.rawValue),
            "userinfo_endpoint": issuer.endpoint(UserInfoEndpoint.path),
            "end_session_endpoint": issuer.endpoint(LogoutEndpoint.path),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "code_challenge_methods_supported": [PKCE.method],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "claims_supported": UserInfo.supportedClaims,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": JWSAlgorithm.allCases.map(\.rawValue),
            "prompt_values_supported": AuthorizationRequest.Prompt.allCases.map(\.rawValue),
            // RFC 9207 §3: the iss parameter is in every authorization response.
            "authorization_response_iss_parameter_supported": true,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "claims_parameter_supported": false,
        ]
        if let mtlsBaseURL {
            // RFC 8705 §5: the endpoints a client uses when it authenticates with a certificate or wants a
            // certificate-bound token; served by the listener that asks for client certificates.
            document["mtls_endpoint_aliases"] = [
                "token_endpoint": mtlsBaseURL + TokenEndpoint.path,
                "revocation_endpoint": mtlsBaseURL + RevocationEndpoint.path,
                "introspection_endpoint": mtlsBaseURL + IntrospectionEndpoint.path,
                "userinfo_endpoint": mtlsBaseURL + UserInfoEndpoint.path,
            ]
        }
        let data = (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array(data)
    }

    static func matches(_ header: String, etag: String) -> Bool {
        let wanted = etag.hasPrefix("W/") ? String(etag.dropFirst(2)) : etag
        for candidate in header.split(separator: ",") {
            var tag = candidate.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            if tag == wanted { return true }
        }
        return false
    }
}
