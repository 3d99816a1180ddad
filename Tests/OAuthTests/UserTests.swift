import Foundation
import OAuth
import Testing

@Suite struct UserTests {
    static func user(_ username: String = "alice", email: String? = "alice@example.com", verified: Bool = false, name: String? = "Alice Liddell") -> User {
        let now = Date()
        return User(username: username, email: email, isEmailVerified: verified, name: name, createdAt: now, updatedAt: now, passwordChangedAt: now)
    }

    @Test("A sound user has no problem", arguments: ["alice", "a", "Alice.Liddell+tea@wonderland", String(repeating: "x", count: 64), "!#$%&'*~"])
    func soundUsernames(username: String) {
        #expect(Self.user(username).problem == nil)
    }

    @Test("Usernames are 1 to 64 printable ASCII characters without spaces or control characters",
          arguments: ["", String(repeating: "x", count: 65), "alice liddell", " alice", "alice\n", "tab\there", "nul\u{0}", "del\u{7F}", "ålice", "аlice", "alice\u{200B}"])
    func badUsernames(username: String) {
        #expect(Self.user(username).problem != nil, "accepted \(username.debugDescription)")
    }

    @Test("Email and name are optional")
    func optionalFields() {
        #expect(Self.user(email: nil, name: nil).problem == nil)
    }

    @Test("Email addresses must have the shape local@domain", arguments: ["alice@example.com", "a@b", "a+tag@sub.example.org", "\"odd\"@example.com"])
    func soundEmails(email: String) {
        #expect(User.emailProblem(email) == nil)
    }

    @Test("Malformed email addresses are refused",
          arguments: ["", "alice", "@example.com", "alice@", "alice@.example.com", "alice@example.com.", "alice@exa..mple.com",
                      "alice @example.com", "alice@example.com\r\nBcc: x@y", "\(String(repeating: "a", count: 65))@example.com",
                      "a@" + String(repeating: "b", count: 253)])
    func badEmails(email: String) {
        #expect(User.emailProblem(email) != nil, "accepted \(email.debugDescription)")
        #expect(Self.user(email: email).problem != nil)
    }

    @Test("A verified email needs an email (OIDC Core §5.1 email_verified)")
    func verifiedNeedsEmail() {
        #expect(Self.user(email: nil, verified: true).problem != nil)
        #expect(Self.user(verified: true).problem == nil)
    }

    @Test("Names are at most 200 bytes, not empty, without control characters")
    func names() {
        #expect(Self.user(name: String(repeating: "é", count: 100)).problem == nil, "200 bytes")
        #expect(Self.user(name: String(repeating: "é", count: 100) + "x").problem != nil, "201 bytes")
        #expect(Self.user(name: "").problem != nil)
        #expect(Self.user(name: "Alice\u{1B}[31m").problem != nil)
        #expect(Self.user(name: "Alice\u{85}").problem != nil)
    }

    @Test("Passwords are 8 characters or more (NIST SP 800-63B §5.1.1.2) and at most 1024 bytes")
    func passwords() {
        #expect(User.passwordProblem("1234567") != nil)
        #expect(User.passwordProblem("12345678") == nil)
        #expect(User.passwordProblem("correct horse battery staple") == nil, "spaces are allowed")
        #expect(User.passwordProblem("äöüßäöüß") == nil, "characters, not bytes, count toward the minimum")
        #expect(User.passwordProblem("äöüßäöü") != nil)
        #expect(User.passwordProblem(String(repeating: "x", count: 1024)) == nil)
        #expect(User.passwordProblem(String(repeating: "x", count: 1025)) != nil)
        #expect(User.passwordProblem(String(repeating: "é", count: 513)) != nil, "1026 bytes")
    }

    @Test("The subject is the id in lowercase, and independent of the username (OIDC Core §2)")
    func subject() throws {
        let id = try #require(UUID(uuidString: "0F8FAD5B-D9CB-469F-A165-70867728950E"))
        var user = Self.user()
        user.id = id
        #expect(user.subject == "0f8fad5b-d9cb-469f-a165-70867728950e")
        user.username = "alice2"
        #expect(user.subject == "0f8fad5b-d9cb-469f-a165-70867728950e")
    }
}
