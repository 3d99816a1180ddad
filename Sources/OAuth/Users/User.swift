import Foundation

/// An end user who signs in with a username and a password (OIDC Core §5.1 claim names in comments).
///
/// The password is not part of the model: storage keeps only its Argon2id hash.
public struct User: Sendable, Equatable {
    /// The subject identifier. OIDC Core §2: a `sub` is "locally unique and never reassigned",
    /// so it is a random UUID, independent of the username.
    public var id: UUID
    /// The name typed at the login page: printable ASCII without spaces, 1 to 64 characters,
    /// unique whatever its case ("Alice" and "alice" are one user), kept as first typed.
    public var username: String
    /// `email`, when known.
    public var email: String?
    /// `email_verified`: whether the address was confirmed to belong to this user.
    public var isEmailVerified: Bool
    /// `name`: the full name for display.
    public var name: String?
    /// A disabled user cannot sign in.
    public var isDisabled: Bool
    public var createdAt: Date
    public var updatedAt: Date
    /// When the password was last set.
    public var passwordChangedAt: Date

    /// Longest username, in characters (all ASCII, so also in bytes).
    public static let maximumUsernameLength = 64
    /// Longest email address in bytes (RFC 5321 §4.5.3.1.3 bounds a path at 256 octets, brackets included).
    public static let maximumEmailBytes = 254
    /// Longest name in bytes: bounds what a page or a token may have to carry.
    public static let maximumNameBytes = 200
    /// Shortest password, counted in Unicode code points (NIST SP 800-63B §5.1.1.2: at least 8 characters).
    public static let minimumPasswordLength = 8
    /// Longest password in UTF-8 bytes: bounds the input one Argon2id hash has to read.
    public static let maximumPasswordBytes = 1024

    public init(id: UUID = UUID(), username: String, email: String? = nil, isEmailVerified: Bool = false, name: String? = nil,
                isDisabled: Bool = false, createdAt: Date, updatedAt: Date, passwordChangedAt: Date) {
        self.id = id
        self.username = username
        self.email = email
        self.isEmailVerified = isEmailVerified
        self.name = name
        self.isDisabled = isDisabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.passwordChangedAt = passwordChangedAt
    }

    /// The `sub` claim: the id in lowercase hexadecimal with hyphens.
    public var subject: String { id.uuidString.lowercased() }

    /// Whether `text` has the form of a user's subject (a UUID in any case). No client id may have
    /// it, so a resource server tells a person's token from a client's by the form of `sub`.
    public static func hasSubjectForm(_ text: String) -> Bool {
        text.utf8.count == 36 && UUID(uuidString: text) != nil
    }

    /// Why this user record is unacceptable, or nil when it is sound.
    public var problem: String? {
        if let problem = Self.usernameProblem(username) { return problem }
        if let email, let problem = Self.emailProblem(email) { return problem }
        if isEmailVerified && email == nil { return "an email address can only be verified if there is one" }
        if let name {
            if name.isEmpty { return "the name must not be empty (leave it out instead)" }
            if name.utf8.count > Self.maximumNameBytes { return "the name must be at most \(Self.maximumNameBytes) bytes" }
            if name.unicodeScalars.contains(where: Self.isControl) { return "the name must not contain control characters" }
        }
        return nil
    }

    /// Why `username` cannot be a username, or nil when it can.
    public static func usernameProblem(_ username: String) -> String? {
        if username.isEmpty || username.utf8.count > maximumUsernameLength {
            return "the username must be 1 to \(maximumUsernameLength) characters"
        }
        // ASCII only: Unicode usernames would need PRECIS preparation (RFC 8265 §3.3) to keep
        // visually identical spellings from becoming two accounts.
        if !username.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) {
            return "the username must be printable ASCII without spaces"
        }
        return nil
    }

    /// Why `email` does not look like an email address, or nil when it does. A sanity check of
    /// the shape (local part, one `@`, domain), not a validation of RFC 5322's full grammar.
    public static func emailProblem(_ email: String) -> String? {
        if email.utf8.count > maximumEmailBytes { return "the email address must be at most \(maximumEmailBytes) bytes" }
        if email.unicodeScalars.contains(where: { $0 == " " || isControl($0) }) {
            return "the email address must not contain spaces or control characters"
        }
        guard let at = email.lastIndex(of: "@") else { return "the email address needs an '@'" }
        let local = email[..<at]
        let domain = email[email.index(after: at)...]
        // RFC 5321 §4.5.3.1.1: "The maximum total length of a user name or other local-part is 64 octets."
        if local.isEmpty || local.utf8.count > 64 { return "the part of the email address before '@' must be 1 to 64 bytes" }
        if domain.isEmpty || domain.contains("@") || domain.hasPrefix(".") || domain.hasSuffix(".") || domain.contains("..") {
            return "the email address has no valid domain after '@'"
        }
        return nil
    }

    /// Why `password` cannot be a password, or nil when it can.
    public static func passwordProblem(_ password: String) -> String? {
        if password.unicodeScalars.count < minimumPasswordLength {
            return "the password must be at least \(minimumPasswordLength) characters"
        }
        if password.utf8.count > maximumPasswordBytes { return "the password must be at most \(maximumPasswordBytes) bytes" }
        return nil
    }

    /// C0 and C1 control characters and DEL.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}
