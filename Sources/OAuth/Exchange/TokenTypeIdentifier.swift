/// The token type identifiers of RFC 8693 §3, as `subject_token_type`, `actor_token_type`,
/// `requested_token_type` and `issued_token_type` name them.
public enum TokenTypeIdentifier: String, Sendable, CaseIterable {
    /// "Indicates that the token is an OAuth 2.0 access token issued by the given authorization server."
    case accessToken = "urn:ietf:params:oauth:token-type:access_token"
    case refreshToken = "urn:ietf:params:oauth:token-type:refresh_token"
    /// "Indicates that the token is an ID Token as defined in Section 2 of [OpenID.Core]."
    case idToken = "urn:ietf:params:oauth:token-type:id_token"
    case saml1 = "urn:ietf:params:oauth:token-type:saml1"
    case saml2 = "urn:ietf:params:oauth:token-type:saml2"
    /// RFC 8693 §3: "Indicates that the token is a JWT."
    case jwt = "urn:ietf:params:oauth:token-type:jwt"
}
