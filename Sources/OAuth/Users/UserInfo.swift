import JOSE
/// The claims about a user released for a set of scopes (OIDC Core §5.4, §5.3.2).
public enum UserInfo {
    /// The scopes whose claims this server releases, and the claims.
    public static let claimsByScope: [(scope: String, claims: [String])] = [
        ("profile", ["name", "preferred_username"]),
        ("email", ["email", "email_verified"]),
    ]

    /// Every claim a UserInfo response or an ID token may carry (for discovery's `claims_supported`).
    public static let supportedClaims = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "sid",
                                         "name", "preferred_username", "email", "email_verified"]

    /// The UserInfo response body: `sub` always (OIDC Core §5.3.2: "The sub (subject) Claim MUST
    /// always be returned"); `profile` adds `name` and `preferred_username`; `email` adds
    /// `email` and `email_verified`. Claims with no value are left out.
    public static func json(user: User, scope: Scope) -> String {
        var members = ["\"sub\":\(JSONText.string(user.subject))"]
        if scope.contains("profile") {
            if let name = user.name { members.append("\"name\":\(JSONText.string(name))") }
            members.append("\"preferred_username\":\(JSONText.string(user.username))")
        }
        if scope.contains("email"), let email = user.email {
            members.append("\"email\":\(JSONText.string(email))")
            members.append("\"email_verified\":\(user.isEmailVerified)")
        }
        return "{" + members.joined(separator: ",") + "}"
    }
}
