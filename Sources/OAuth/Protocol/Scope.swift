/// A set of scope tokens (RFC 6749 §3.3): space-delimited, case-sensitive, order-free.
public struct Scope: Sendable, Hashable, CustomStringConvertible {
    public let tokens: Set<String>

    public init<S: Sequence>(_ tokens: S) where S.Element == String { self.tokens = Set(tokens) }

    /// Parses a `scope` parameter. RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ),
    /// separated by single spaces.
    public init(parsing text: String) throws(OAuthError) {
        var tokens = Set<String>()
        for part in text.split(separator: " ", omittingEmptySubsequences: false) {
            guard !part.isEmpty, part.unicodeScalars.allSatisfy({ s in
                s.value == 0x21 || (0x23...0x5B).contains(s.value) || (0x5D...0x7E).contains(s.value)
            }) else {
                throw OAuthError(.invalidScope, "The scope parameter is malformed.")
            }
            tokens.insert(String(part))
        }
        self.tokens = tokens
    }

    public var isEmpty: Bool { tokens.isEmpty }
    public func isSubset(of other: Scope) -> Bool { tokens.isSubset(of: other.tokens) }
    public func contains(_ token: String) -> Bool { tokens.contains(token) }

    /// The wire form, sorted so that equal scopes print the same.
    public var description: String { tokens.sorted().joined(separator: " ") }
}
