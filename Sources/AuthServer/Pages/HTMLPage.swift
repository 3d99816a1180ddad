import HTTPServer

/// What every server-rendered page shares: escaping, the layout, and the security headers.
enum HTMLPage {
    /// Markup in which every interpolated `String` is escaped and every interpolated `Fragment` is kept as is.
    ///
    /// Only literals written in this module are trusted, so a value can reach a page unescaped
    /// only by being built as a `Fragment` itself.
    struct Fragment: Sendable, ExpressibleByStringInterpolation {
        fileprivate(set) var markup: String

        init(stringLiteral value: String) {
            markup = value
        }

        init(stringInterpolation: Interpolation) {
            markup = stringInterpolation.markup
        }

        /// The fragments one after another with `separator` between them.
        init(joining fragments: [Fragment], separator: Fragment = "\n") {
            markup = fragments.map(\.markup).joined(separator: separator.markup)
        }

        struct Interpolation: StringInterpolationProtocol {
            fileprivate var markup = ""

            init(literalCapacity: Int, interpolationCount: Int) {
                markup.reserveCapacity(literalCapacity + 16 * interpolationCount)
            }

            mutating func appendLiteral(_ literal: String) {
                markup += literal
            }

            mutating func appendInterpolation(_ text: String) {
                markup += HTMLPage.escape(text)
            }

            mutating func appendInterpolation(_ fragment: Fragment) {
                markup += fragment.markup
            }
        }
    }

    /// `text` with `& < > " '` replaced by character references, safe as element content
    /// and inside a quoted attribute value (HTML Living Standard §13.1.2.3, §13.2.5.36).
    static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: needsEscaping) else { return text }
        var escaped: [UInt8] = []
        escaped.reserveCapacity(text.utf8.count + 32)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "&"): escaped.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): escaped.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): escaped.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): escaped.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): escaped.append(contentsOf: "&#39;".utf8)
            default: escaped.append(byte)
            }
        }
        return String(decoding: escaped, as: UTF8.self)
    }

    private static func needsEscaping(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "&"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "\""), UInt8(ascii: "'"): true
        default: false
        }
    }

    /// The policy for every page: nothing loads but our own stylesheet and images; no script runs at all.
    ///
    /// There is deliberately no `form-action`: Chromium applies it to the redirect that follows
    /// a form submission, and our forms redirect to client applications on other origins.
    /// `frame-ancestors 'none'` (with `X-Frame-Options` for older browsers) stops clickjacking of the forms.
    static let contentSecurityPolicy =
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"

    /// The headers every HTML response carries, in this order.
    static let securityHeaders: [(name: String, value: String)] = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Security-Policy", contentSecurityPolicy),
        ("X-Frame-Options", "DENY"),
        // The pages' URLs carry the authorization request; no other site learns them.
        ("Referrer-Policy", "no-referrer"),
        ("X-Content-Type-Options", "nosniff"),
        // Pages hold CSRF tokens and personal data: no cache, shared or private, may keep them.
        ("Cache-Control", "no-store"),
        ("Pragma", "no-cache"),
    ]

    /// A complete HTML response: `content` inside the shared layout, the security headers, then `headers`.
    ///
    /// Extra headers are appended, never replacing a security header, so a `Set-Cookie` or
    /// `Retry-After` travels with the page and a repeated policy header can only narrow it.
    static func response(status: HTTPStatus, title: String, content: Fragment, headers extra: HTTPHeaders) -> HTTPResponse {
        var headers = HTTPHeaders(securityHeaders.map { ($0.name, $0.value) })
        for header in extra {
            headers.add(name: header.name, value: header.value)
        }
        return HTTPResponse(status: status, headers: headers, body: Array(document(title: title, content: content).markup.utf8))
    }

    /// The shared layout: one centred card holding `content`.
    static func document(title: String, content: Fragment) -> Fragment {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="robots" content="noindex, nofollow">
        <title>\(title) · Tessera</title>
        <link rel="stylesheet" href="\(Pages.stylesheetPath)">
        </head>
        <body>
        <main class="card">
        <p class="brand">Tessera</p>
        \(content)
        </main>
        </body>
        </html>

        """
    }

    /// `<input type="hidden">` carrying `value` under `name` into the form's POST.
    static func hiddenField(name: String, value: String) -> Fragment {
        "<input type=\"hidden\" name=\"\(name)\" value=\"\(value)\">"
    }
}
