import Foundation

/// The `client_credentials` grant (RFC 6749 §4.4): a client gets an access token for itself.
///
/// It needs no storage: it is answered from the registration and the keys alone.
public struct ClientCredentialsGrant: Sendable {
    public let minter: TokenMinter
    public let clock: @Sendable () -> Date

    public init(minter: TokenMinter, clock: @escaping @Sendable () -> Date = Date.init) {
        self.minter = minter
        self.clock = clock
    }

    /// Issues an access token for `client` itself (`sub` is its id). RFC 6749 §4.4.3: "A refresh
    /// token SHOULD NOT be included."
    public func issue(_ form: TokenRequest, client: Client, ring: KeyRing) throws -> TokenResponse {
        let scope = try Self.scope(requested: form["scope"], client: client)
        let audience = try Self.audience(resources: form.resources, audience: form["audience"], client: client)
        return try minter.mint(client: client, subject: client.id, username: nil, scope: scope, audiences: audience, now: clock(), ring: ring)
    }

    /// The scope to grant. RFC 6749 §3.3: absent means the client's default scopes;
    /// anything the client may not have is `invalid_scope`, never silently narrowed.
    public static func scope(requested: String?, client: Client) throws(OAuthError) -> Scope {
        guard let requested else { return client.defaultScopes }
        let scope = try Scope(parsing: requested)
        guard scope.isSubset(of: client.allowedScopes) else {
            throw OAuthError(.invalidScope, "The requested scope exceeds what the client may request.",
                             detail: "client \(client.id) asked for \(scope) but may have \(client.allowedScopes)")
        }
        return scope
    }

    /// The audiences the token is bound to: the `resource` indicators (RFC 8707 §2) and
    /// the `audience` parameter, each one among the client's registered audiences, or the
    /// client's first audience when none is named.
    public static func audience(resources: [String], audience: String?, client: Client) throws(OAuthError) -> [String] {
        var requested: [String] = []
        for resource in resources {
            // RFC 8707 §2: "Its value MUST be an absolute URI ... and MUST NOT include a fragment component."
            guard isAbsoluteURIWithoutFragment(resource) else {
                throw OAuthError(.invalidTarget, "A resource indicator must be an absolute URI without a fragment.")
            }
            requested.append(resource)
        }
        if let audience { requested.append(audience) }
        var unique: [String] = []
        for value in requested where !unique.contains(value) { unique.append(value) }
        guard !unique.isEmpty else {
            guard let first = client.audiences.first else {
                throw OAuthError(.invalidTarget, "The client has no registered audience; name a resource.",
                                 detail: "client \(client.id) has no audiences")
            }
            return [first]
        }
        for value in unique where !client.audiences.contains(value) {
            throw OAuthError(.invalidTarget, "The requested resource is not one this client may get tokens for.",
                             detail: "client \(client.id) asked for audience \(value)")
        }
        return unique
    }

    static func isAbsoluteURIWithoutFragment(_ text: String) -> Bool {
        guard !text.contains("#"), text.utf8.count <= 2_048,
              !text.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7F }),
              let colon = text.firstIndex(of: ":") else { return false }
        // RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
        let scheme = Array(text[..<colon].utf8)
        func isLetter(_ byte: UInt8) -> Bool { (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) }
        guard let first = scheme.first, isLetter(first), scheme.allSatisfy({ byte in
            isLetter(byte) || (0x30...0x39).contains(byte) || byte == 0x2B || byte == 0x2D || byte == 0x2E
        }) else { return false }
        return text.index(after: colon) < text.endIndex
    }
}
