import HTTPServer

/// The cookies of the browser login, and their attributes.
///
/// On an `https` issuer the names carry the `__Host-` prefix (RFC 6265bis §4.1.3.2: such a
/// cookie must be `Secure`, from a secure origin, with `Path=/` and no `Domain`), so that no
/// sibling domain or plain-http page can set or overwrite them.
struct Cookies: Sendable {
    /// Whether the issuer is https: cookies are then `Secure` and `__Host-` prefixed.
    let isSecure: Bool

    /// The login session.
    var session: String { name("tessera_session") }
    /// Binds pending authorization requests (and so their forms) to the browser that started them.
    var browser: String { name("tessera_browser") }
    /// Marks a browser that has signed in to an account before (see ``PasswordLogin/isKnownDevice(_:userID:)``).
    var device: String { name("tessera_device") }

    private func name(_ base: String) -> String { isSecure ? "__Host-" + base : base }

    /// A `Set-Cookie` value: `HttpOnly` (no script can read it), `SameSite=Lax` (not sent on
    /// cross-site subrequests or POSTs), `Path=/`, `Secure` on https; `maxAge` nil: until the
    /// browser closes.
    func setCookie(_ name: String, _ value: String, maxAge: Int?) -> String {
        var cookie = "\(name)=\(value); Path=/; HttpOnly; SameSite=Lax"
        if let maxAge { cookie += "; Max-Age=\(maxAge)" }
        if isSecure { cookie += "; Secure" }
        return cookie
    }

    /// A `Set-Cookie` value that deletes the cookie.
    func clearCookie(_ name: String) -> String { setCookie(name, "", maxAge: 0) }

    /// The value of the cookie `name` in the request's `Cookie` header fields (RFC 6265 §5.4),
    /// or nil. When a name appears twice the first wins, as browsers send the most specific first.
    static func value(_ name: String, in request: HTTPRequest) -> String? {
        for header in request.headers.values(for: "Cookie") {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " || $0 == "\t" }
                guard let equals = trimmed.firstIndex(of: "=") else { continue }
                if trimmed[..<equals] == name {
                    let value = trimmed[trimmed.index(after: equals)...].trimmingSuffix(while: { $0 == " " || $0 == "\t" })
                    return value.isEmpty ? nil : String(value)
                }
            }
        }
        return nil
    }
}

private extension Substring {
    func trimmingSuffix(while predicate: (Character) -> Bool) -> Substring {
        var end = endIndex
        while end > startIndex, predicate(self[index(before: end)]) { end = index(before: end) }
        return self[startIndex..<end]
    }
}
