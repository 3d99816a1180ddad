/// Redirect-URI matching and the redirect responses of the authorization endpoint.
public enum RedirectURI {
    /// Whether `requested` is one of `registered`, compared byte for byte (RFC 9700 §4.1.3:
    /// "authorization servers MUST utilize exact string matching"). For public native
    /// clients, RFC 8252 §7.3: "The authorization server MUST allow any port to be specified at
    /// the time of the request for loopback IP redirect URIs" — only for `http` loopback IP
    /// literals, never for `localhost` or other hosts.
    public static func matches(_ requested: String, registered: [String], allowsLoopbackPort: Bool) -> Bool {
        if registered.contains(where: { identical($0, requested) }) { return true }
        guard allowsLoopbackPort, let request = withoutLoopbackPort(requested) else { return false }
        return registered.contains { withoutLoopbackPort($0).map { identical($0, request) } ?? false }
    }

    /// Byte-for-byte equality of the UTF-8 forms. Swift's `==` on strings compares canonical
    /// equivalence ("\u{212A}" KELVIN SIGN equals "K"), which is not "identical" (RFC 6749 §4.1.3,
    /// RFC 3986 §6.2.1 simple string comparison).
    public static func identical(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.elementsEqual(rhs.utf8)
    }

    /// A loopback IP redirect URI with its port removed (`http://127.0.0.1:5000/cb` → `http://127.0.0.1/cb`), or nil.
    static func withoutLoopbackPort(_ uri: String) -> String? {
        for host in ["http://127.0.0.1", "http://[::1]"] where uri.hasPrefix(host) {
            var rest = uri.dropFirst(host.count)
            if rest.first == ":" {
                let digits = rest.dropFirst().prefix { ("0"..."9").contains($0) }
                guard !digits.isEmpty, digits.count <= 5, let port = Int(digits), port <= 65_535 else { return nil }
                rest = rest.dropFirst(1 + digits.count)
            }
            // The authority must end here: `http://127.0.0.1.evil.example/` is not loopback.
            guard rest.isEmpty || rest.first == "/" || rest.first == "?" else { return nil }
            return host + rest
        }
        return nil
    }

    /// Why `uri` cannot be registered as a redirect (or post-logout redirect) URI, or nil when it can.
    ///
    /// RFC 6749 §3.1.2: "The redirection endpoint URI MUST be an absolute URI ... The endpoint URI
    /// MUST NOT include a fragment component." RFC 9700 §2.6 and §4.1.3: plain `http` only for
    /// loopback redirects of native apps (RFC 8252 §7.3), everything else over TLS or a private-use
    /// scheme (RFC 8252 §7.1); exact matching leaves no room for wildcards. A URI with user
    /// information or a scheme a browser runs or reads itself is never a redirect target.
    public static func registrationProblem(_ uri: String) -> String? {
        guard ClientCredentialsGrant.isAbsoluteURIWithoutFragment(uri) else { return "is not an absolute URI without a fragment" }
        if uri.contains("*") { return "contains a wildcard; redirect URIs are matched exactly" }
        guard let colon = uri.firstIndex(of: ":") else { return "is not an absolute URI" }
        let scheme = uri[..<colon].lowercased()
        if ["javascript", "data", "file", "vbscript", "blob", "about", "filesystem"].contains(scheme) {
            return "uses the \(scheme) scheme, which a browser does not send to an application"
        }
        guard scheme == "http" || scheme == "https" else { return nil }
        let afterScheme = uri[uri.index(after: colon)...]
        guard afterScheme.hasPrefix("//") else { return "has no authority (\(scheme)://host/...)" }
        let authority = afterScheme.dropFirst(2).prefix { $0 != "/" && $0 != "?" }
        if authority.contains("@") { return "contains user information" }
        let host: Substring
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return "has a malformed IPv6 host" }
            host = authority[...close]
        } else {
            host = authority.prefix { $0 != ":" }
        }
        if host.isEmpty { return "has no host" }
        if scheme == "http" && !isLoopbackHost(host.lowercased()) {
            return "uses plain http on a host that is not loopback (only 127.0.0.1, [::1] and localhost may use http)"
        }
        return nil
    }

    /// `127.0.0.0/8` literals, `[::1]` and `localhost`.
    static func isLoopbackHost(_ host: String) -> Bool {
        if host == "localhost" || host == "[::1]" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy { ("0"..."9").contains($0) } && (Int(part) ?? 256) <= 255
        }
    }

    /// `uri` with `parameters` added to its query (RFC 6749 §4.1.2: "adding the following
    /// parameters to the query component of the redirection URI"), keeping any query it has.
    public static func adding(_ parameters: [(String, String)], to uri: String) -> String {
        let query = parameters.map { "\(FormURLEncoded.encode($0.0))=\(FormURLEncoded.encode($0.1))" }.joined(separator: "&")
        guard !query.isEmpty else { return uri }
        if uri.contains("?") { return uri + (uri.hasSuffix("?") || uri.hasSuffix("&") ? "" : "&") + query }
        return uri + "?" + query
    }

    /// The parameters of an error redirect (RFC 6749 §4.1.2.1, RFC 9207 §2).
    public static func errorParameters(_ error: OAuthError, state: String?, issuer: String) -> [(String, String)] {
        var parameters = [("error", error.code.rawValue), ("error_description", error.sanitizedDescription)]
        if let state { parameters.append(("state", state)) }
        parameters.append(("iss", issuer))
        return parameters
    }
}
