/// The issuer identifier: an `https` (or, for development, `http`) URL with a host,
/// optional port and path, and no query or fragment (RFC 8414 §2, OIDC Discovery §3).
///
/// It is kept byte for byte as configured: discovery's `issuer` must equal it exactly.
public struct Issuer: Sendable, Equatable, CustomStringConvertible {
    public let url: String
    public let isHTTPS: Bool

    public init(parsing text: String) throws(ValueError) {
        let isHTTPS: Bool
        let rest: Substring
        if text.hasPrefix("https://") {
            isHTTPS = true
            rest = text.dropFirst("https://".count)
        } else if text.hasPrefix("http://") {
            isHTTPS = false
            rest = text.dropFirst("http://".count)
        } else {
            throw ValueError("must be an absolute https:// (or http:// for development) URL")
        }
        // RFC 8414 §2: "...that has no query or fragment components."
        guard !text.contains("?"), !text.contains("#") else { throw ValueError("must not have a query or fragment") }
        guard !text.hasSuffix("/") else { throw ValueError("must not end with '/' (endpoint paths are appended to it)") }
        guard !text.contains("@") else { throw ValueError("must not contain user information") }
        guard text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw ValueError("must be printable ASCII without spaces")
        }
        let authority = rest.prefix { $0 != "/" }
        guard !authority.isEmpty, !authority.hasPrefix(":") else { throw ValueError("must name a host") }
        self.url = text
        self.isHTTPS = isHTTPS
        self.origin = Self.serializedOrigin(scheme: isHTTPS ? "https" : "http", authority: authority)
    }

    /// The issuer's origin as a browser serializes it in `Origin` (RFC 6454 §6.2): scheme and
    /// host in lower case, the port only when it is not the scheme's default.
    public let origin: String

    static func serializedOrigin(scheme: String, authority: Substring) -> String {
        var authority = authority.lowercased()
        let defaultPort = scheme == "https" ? ":443" : ":80"
        if authority.hasSuffix(defaultPort) { authority.removeLast(defaultPort.count) }
        return scheme + "://" + authority
    }

    /// The absolute URL of an endpoint at `path` (which starts with "/").
    public func endpoint(_ path: String) -> String { url + path }

    public var description: String { url }
}
