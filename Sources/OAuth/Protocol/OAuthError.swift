/// An error the protocol reports to a client (RFC 6749 §5.2, §4.1.2.1; RFC 6750 §3.1;
/// OIDC Core §3.1.2.6; RFC 8707 §2).
public struct OAuthError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The registered error codes; raw values are the wire strings.
    public enum Code: String, Sendable, CaseIterable {
        case invalidRequest = "invalid_request"
        case invalidClient = "invalid_client"
        case invalidGrant = "invalid_grant"
        case unauthorizedClient = "unauthorized_client"
        case unsupportedGrantType = "unsupported_grant_type"
        case invalidScope = "invalid_scope"
        case invalidTarget = "invalid_target"
        case accessDenied = "access_denied"
        case unsupportedResponseType = "unsupported_response_type"
        case serverError = "server_error"
        case temporarilyUnavailable = "temporarily_unavailable"
        case invalidToken = "invalid_token"
        case insufficientScope = "insufficient_scope"
        case unsupportedTokenType = "unsupported_token_type"
        case loginRequired = "login_required"
        case consentRequired = "consent_required"
        case interactionRequired = "interaction_required"
        case requestNotSupported = "request_not_supported"
        case requestURINotSupported = "request_uri_not_supported"
        case registrationNotSupported = "registration_not_supported"
    }

    public let code: Code
    /// Sent to the client as `error_description`: human-readable, never a secret.
    public let errorDescription: String
    /// Logged only (for operators); may name internals, never secrets.
    public let detail: String?
    /// Whether the error may be delivered to the client's redirect URI.
    public let isRedirectable: Bool

    public init(_ code: Code, _ errorDescription: String, detail: String? = nil, isRedirectable: Bool = true) {
        self.code = code
        self.errorDescription = errorDescription
        self.detail = detail
        self.isRedirectable = isRedirectable
    }

    public var description: String { "\(code.rawValue): \(errorDescription)" + (detail.map { " (\($0))" } ?? "") }

    /// RFC 6749 §5.2 allows only %x20-21 / %x23-5B / %x5D-7E in `error_description`.
    public var sanitizedDescription: String {
        String(String.UnicodeScalarView(errorDescription.unicodeScalars.filter { scalar in
            let v = scalar.value
            return v == 0x20 || v == 0x21 || (0x23...0x5B).contains(v) || (0x5D...0x7E).contains(v)
        }))
    }

    public static func invalidRequest(_ description: String, detail: String? = nil) -> OAuthError { OAuthError(.invalidRequest, description, detail: detail) }
    public static func serverError(detail: String) -> OAuthError { OAuthError(.serverError, "The server could not complete the request.", detail: detail) }
    public static let temporarilyUnavailable = OAuthError(.temporarilyUnavailable, "The service is temporarily unavailable; try again shortly.")
}
