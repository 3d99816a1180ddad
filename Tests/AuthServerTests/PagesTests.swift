import HTTPServer
import Testing
@testable import AuthServer

@Suite struct PagesTests {
    /// Breaks out of an attribute and out of element content, with both quotes, an ampersand and non-ASCII text.
    static let hostile = #""><script>alert(1)</script>' & Zoë 東京 <img src=x onerror=alert(2)>"#
    static let hostileEscaped =
        "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#39; &amp; Zoë 東京 &lt;img src=x onerror=alert(2)&gt;"

    static let login = LoginPageModel(interaction: "int-1", csrfToken: "csrf-1", clientName: "Example App")
    static let consent = ConsentPageModel(
        interaction: "int-2", csrfToken: "csrf-2", clientName: "Example App", clientID: "example",
        username: "alice", scopes: ["openid", "profile", "email", "offline_access", "payments:read"])
    static let logout = LogoutPageModel(
        csrfToken: "csrf-3",
        fields: [("id_token_hint", "eyJ.a.b"), ("client_id", "example"), ("post_logout_redirect_uri", "https://app.example/bye"), ("state", "s1")],
        clientName: "Example App")

    /// A rendered page, named in test output by `name` alone.
    struct Page: Sendable, CustomTestStringConvertible {
        let name: String
        let response: HTTPResponse
        var testDescription: String { name }

        init(_ name: String, _ response: HTTPResponse) {
            self.name = name
            self.response = response
        }
    }

    /// One response from every page function.
    static let everyPage: [Page] = [
        Page("login", Pages.login(login)),
        Page("login with error", Pages.login(LoginPageModel(
            interaction: "i", csrfToken: "c", clientName: "n", username: "alice", errorMessage: "Invalid username or password."),
            status: .badRequest)),
        Page("consent", Pages.consent(consent)),
        Page("consent without scopes", Pages.consent(ConsentPageModel(
            interaction: "i", csrfToken: "c", clientName: "n", clientID: "id", username: "u", scopes: []))),
        Page("error", Pages.error(status: .badRequest, title: "Invalid request", message: "The redirect_uri is not registered.", code: "invalid_request")),
        Page("error without code", Pages.error(status: .forbidden, title: "Expired", message: "Start again.")),
        Page("logout confirmation", Pages.logoutConfirmation(logout)),
        Page("logout confirmation without client", Pages.logoutConfirmation(LogoutPageModel(csrfToken: "c", fields: [], clientName: nil))),
        Page("signed out", Pages.signedOut()),
    ]

    static func text(_ response: HTTPResponse) -> String {
        String(decoding: response.body, as: UTF8.self)
    }

    // MARK: Headers and layout

    @Test("Every page carries the security headers", arguments: everyPage)
    func securityHeaders(page: Page) {
        let headers = page.response.headers
        #expect(headers["Content-Type"] == "text/html; charset=utf-8")
        #expect(headers["Content-Security-Policy"] ==
            "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'")
        #expect(headers["X-Frame-Options"] == "DENY")
        #expect(headers["Referrer-Policy"] == "no-referrer")
        #expect(headers["X-Content-Type-Options"] == "nosniff")
        #expect(headers["Cache-Control"] == "no-store")
        #expect(headers["Pragma"] == "no-cache")
    }

    @Test("The policy has no form-action: Chromium would apply it to the redirect after a form post")
    func noFormAction() {
        #expect(!HTMLPage.contentSecurityPolicy.contains("form-action"))
    }

    @Test("Every page uses the shared layout and links the stylesheet", arguments: everyPage)
    func layout(page: Page) {
        let html = Self.text(page.response)
        #expect(html.hasPrefix("<!doctype html>\n<html lang=\"en\">"))
        #expect(html.contains("<meta charset=\"utf-8\">"))
        #expect(html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"))
        #expect(html.contains("<link rel=\"stylesheet\" href=\"/assets/tessera.css\">"))
        #expect(html.contains("<title>"))
        #expect(html.contains("<main class=\"card\">"))
        #expect(html.hasSuffix("</html>\n"))
    }

    @Test("No page contains script, a style element or a style attribute (the policy forbids them)", arguments: everyPage)
    func noScriptOrInlineStyle(page: Page) {
        let html = Self.text(page.response).lowercased()
        #expect(!html.contains("<script"))
        #expect(!html.contains("<style"))
        #expect(!html.contains(" style="))
        #expect(!html.contains("javascript:"))
    }

    @Test("Statuses pass through and extra headers follow the security headers")
    func statusAndExtraHeaders() {
        let extra = HTTPHeaders([("Set-Cookie", "a=1; Secure"), ("Set-Cookie", "b=2; Secure"), ("Retry-After", "30")])
        let responses = [
            Pages.login(Self.login, status: .tooManyRequests, headers: extra),
            Pages.consent(Self.consent, headers: extra),
            Pages.error(status: .tooManyRequests, title: "t", message: "m", headers: extra),
            Pages.logoutConfirmation(Self.logout, headers: extra),
            Pages.signedOut(headers: extra),
        ]
        for response in responses {
            #expect(response.headers.values(for: "Set-Cookie") == ["a=1; Secure", "b=2; Secure"])
            #expect(response.headers["Retry-After"] == "30")
            let names = response.headers.map(\.name)
            #expect(Array(names.prefix(HTMLPage.securityHeaders.count)) == HTMLPage.securityHeaders.map(\.name))
        }
        #expect(responses[0].status == .tooManyRequests)
        #expect(responses[1].status == .ok)
        #expect(responses[2].status == .tooManyRequests)
        #expect(Pages.login(Self.login).status == .ok)
        #expect(Pages.error(status: .badRequest, title: "t", message: "m").status == .badRequest)
    }

    // MARK: Escaping

    @Test("Escaping replaces & < > \" ' and leaves everything else, non-ASCII included", arguments: [
        ("", ""),
        ("plain text", "plain text"),
        (hostile, hostileEscaped),
        ("&amp;", "&amp;amp;"),
        ("Zoë 東京 🙂", "Zoë 東京 🙂"),
        ("a\"b'c", "a&quot;b&#39;c"),
    ])
    func escaping(input: String, expected: String) {
        #expect(HTMLPage.escape(input) == expected)
    }

    @Test("Interpolated strings are escaped; literals and fragments are kept")
    func fragmentInterpolation() {
        let tag = "<i>"
        let inner: HTMLPage.Fragment = "<b>\(Self.hostile)</b>"
        let outer: HTMLPage.Fragment = "<p>\(inner)\(tag)</p>"
        #expect(outer.markup == "<p><b>\(Self.hostileEscaped)</b>&lt;i&gt;</p>")
    }

    /// Checks that `hostile` reached the page only escaped.
    func expectEscaped(_ response: HTTPResponse, _ sourceLocation: SourceLocation = #_sourceLocation) {
        let html = Self.text(response)
        #expect(html.contains(Self.hostileEscaped), sourceLocation: sourceLocation)
        #expect(!html.contains(Self.hostile), sourceLocation: sourceLocation)
        #expect(!html.lowercased().contains("<script"), sourceLocation: sourceLocation)
        #expect(!html.contains("<img"), sourceLocation: sourceLocation)
    }

    @Test("Every login field is escaped")
    func loginEscaping() {
        let hostile = Self.hostile
        expectEscaped(Pages.login(LoginPageModel(interaction: hostile, csrfToken: "c", clientName: "n")))
        expectEscaped(Pages.login(LoginPageModel(interaction: "i", csrfToken: hostile, clientName: "n")))
        expectEscaped(Pages.login(LoginPageModel(interaction: "i", csrfToken: "c", clientName: hostile)))
        expectEscaped(Pages.login(LoginPageModel(interaction: "i", csrfToken: "c", clientName: "n", username: hostile)))
        expectEscaped(Pages.login(LoginPageModel(interaction: "i", csrfToken: "c", clientName: "n", errorMessage: hostile)))
    }

    @Test("Every consent field is escaped, known and unknown scopes alike")
    func consentEscaping() {
        let hostile = Self.hostile
        func page(_ change: (inout ConsentPageModel) -> Void) -> HTTPResponse {
            var model = ConsentPageModel(interaction: "i", csrfToken: "c", clientName: "n", clientID: "id", username: "u", scopes: ["openid"])
            change(&model)
            return Pages.consent(model)
        }
        expectEscaped(page { $0.interaction = hostile })
        expectEscaped(page { $0.csrfToken = hostile })
        expectEscaped(page { $0.clientName = hostile })
        expectEscaped(page { $0.clientID = hostile })
        expectEscaped(page { $0.username = hostile })
        expectEscaped(page { $0.scopes = ["openid", hostile] })
    }

    @Test("Every logout field is escaped, carried names and values included")
    func logoutEscaping() {
        let hostile = Self.hostile
        expectEscaped(Pages.logoutConfirmation(LogoutPageModel(csrfToken: hostile, fields: [], clientName: nil)))
        expectEscaped(Pages.logoutConfirmation(LogoutPageModel(csrfToken: "c", fields: [], clientName: hostile)))
        expectEscaped(Pages.logoutConfirmation(LogoutPageModel(csrfToken: "c", fields: [("state", hostile)], clientName: nil)))
        expectEscaped(Pages.logoutConfirmation(LogoutPageModel(csrfToken: "c", fields: [(hostile, "v")], clientName: nil)))
    }

    @Test("Every error page field is escaped")
    func errorEscaping() {
        let hostile = Self.hostile
        expectEscaped(Pages.error(status: .badRequest, title: hostile, message: "m"))
        expectEscaped(Pages.error(status: .badRequest, title: "t", message: hostile))
        expectEscaped(Pages.error(status: .badRequest, title: "t", message: "m", code: hostile))
    }

    @Test("Non-ASCII text arrives as UTF-8")
    func nonASCII() {
        let response = Pages.login(LoginPageModel(interaction: "i", csrfToken: "c", clientName: "Zoë 東京", username: "zoë"))
        #expect(Self.text(response).contains("<strong>Zoë 東京</strong>"))
        #expect(Self.text(response).contains("value=\"zoë\""))
        #expect(response.body.contains(0xE6)) // the first byte of 東 in UTF-8
    }

    // MARK: Forms

    @Test("The login form posts the interaction, CSRF token, username and password")
    func loginForm() {
        let html = Self.text(Pages.login(LoginPageModel(interaction: "int-1", csrfToken: "csrf-1", clientName: "Example App")))
        #expect(html.contains("<form method=\"post\" action=\"/login\">"))
        #expect(html.contains("<input type=\"hidden\" name=\"interaction\" value=\"int-1\">"))
        #expect(html.contains("<input type=\"hidden\" name=\"csrf_token\" value=\"csrf-1\">"))
        #expect(html.contains("<label for=\"username\">"))
        #expect(html.contains(
            "<input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required value=\"\" autofocus>"))
        #expect(html.contains("<label for=\"password\">"))
        #expect(html.contains(
            "<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>"))
        #expect(html.contains("<button type=\"submit\" id=\"sign-in\">Sign in</button>"))
        #expect(html.contains("Sign in to continue to <strong>Example App</strong>"))
        #expect(!html.contains("role=\"alert\""))
    }

    @Test("A pre-filled username moves the focus to the password and the error shows in an alert")
    func loginPrefilled() {
        let html = Self.text(Pages.login(LoginPageModel(
            interaction: "i", csrfToken: "c", clientName: "n", username: "alice", errorMessage: "Invalid username or password.")))
        #expect(html.contains("spellcheck=\"false\" required value=\"alice\">"))
        #expect(html.contains("autocomplete=\"current-password\" required autofocus>"))
        #expect(html.components(separatedBy: "autofocus").count == 2)
        #expect(html.contains("<div class=\"error\" role=\"alert\">Invalid username or password.</div>"))
    }

    @Test("The consent form posts allow or deny with the interaction and CSRF token")
    func consentForm() {
        let html = Self.text(Pages.consent(Self.consent))
        #expect(html.contains("<form method=\"post\" action=\"/consent\">"))
        #expect(html.contains("<input type=\"hidden\" name=\"interaction\" value=\"int-2\">"))
        #expect(html.contains("<input type=\"hidden\" name=\"csrf_token\" value=\"csrf-2\">"))
        #expect(html.contains("<button type=\"submit\" name=\"decision\" value=\"allow\" id=\"allow\">Allow</button>"))
        #expect(html.contains("<button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button>"))
        #expect(html.contains("Signed in as <strong>alice</strong>"))
        #expect(html.contains("<code>example</code>"))
    }

    @Test("Known scopes are described, unknown ones shown raw, each once, in order")
    func consentScopes() {
        let html = Self.text(Pages.consent(ConsentPageModel(
            interaction: "i", csrfToken: "c", clientName: "n", clientID: "id", username: "u",
            scopes: ["openid", "email", "payments:read", "email", "offline_access", "profile"])))
        let expected = [
            "<li><span>Confirm who you are</span> <code>openid</code></li>",
            "<li><span>See your email address</span> <code>email</code></li>",
            "<li><code>payments:read</code></li>",
            "<li><span>Keep access while you are not using it</span> <code>offline_access</code></li>",
            "<li><span>See your name and basic profile information</span> <code>profile</code></li>",
        ]
        #expect(html.contains("<ul class=\"scopes\">\n" + expected.joined(separator: "\n") + "\n</ul>"))
    }

    @Test("The logout form posts the CSRF token and the carried fields in order")
    func logoutForm() {
        let html = Self.text(Pages.logoutConfirmation(Self.logout))
        #expect(html.contains("<form method=\"post\" action=\"/logout\">"))
        let hidden = [
            "<input type=\"hidden\" name=\"csrf_token\" value=\"csrf-3\">",
            "<input type=\"hidden\" name=\"id_token_hint\" value=\"eyJ.a.b\">",
            "<input type=\"hidden\" name=\"client_id\" value=\"example\">",
            "<input type=\"hidden\" name=\"post_logout_redirect_uri\" value=\"https://app.example/bye\">",
            "<input type=\"hidden\" name=\"state\" value=\"s1\">",
        ]
        #expect(html.contains(hidden.joined(separator: "\n")))
        #expect(html.contains("<button type=\"submit\" name=\"confirm\" value=\"yes\" id=\"sign-out\">Sign out</button>"))
        #expect(html.contains("<strong>Example App</strong> asks you to sign out."))
    }

    @Test("A carried field cannot shadow the logout form's own csrf_token or confirm")
    func logoutReservedFields() {
        let html = Self.text(Pages.logoutConfirmation(LogoutPageModel(
            csrfToken: "mine", fields: [("csrf_token", "theirs"), ("confirm", "yes"), ("state", "s")], clientName: nil)))
        #expect(html.components(separatedBy: "name=\"csrf_token\"").count == 2)
        #expect(!html.contains("theirs"))
        #expect(html.components(separatedBy: "name=\"confirm\"").count == 2)
        #expect(html.contains("<input type=\"hidden\" name=\"state\" value=\"s\">"))
        #expect(html.contains("Do you want to sign out?"))
    }

    @Test("The error page shows the title, the message and the code when given")
    func errorPage() {
        let withCode = Self.text(Pages.error(
            status: .badRequest, title: "Invalid request", message: "The redirect_uri is not registered.", code: "invalid_request"))
        #expect(withCode.contains("<h1>Invalid request</h1>"))
        #expect(withCode.contains("<p>The redirect_uri is not registered.</p>"))
        #expect(withCode.contains("<code>invalid_request</code>"))
        let withoutCode = Self.text(Pages.error(status: .badRequest, title: "Invalid request", message: "m"))
        #expect(!withoutCode.contains("<code>"))
    }

    // MARK: Stylesheet

    @Test("The stylesheet is served as CSS with a strong ETag and a day of caching")
    func stylesheet() {
        let response = Pages.stylesheet(HTTPRequest(method: .GET, target: Pages.stylesheetPath))
        #expect(response.status == .ok)
        #expect(response.headers["Content-Type"] == "text/css; charset=utf-8")
        #expect(response.headers["Cache-Control"] == "public, max-age=86400")
        #expect(response.headers["X-Content-Type-Options"] == "nosniff")
        let etag = response.headers["ETag"] ?? ""
        #expect(etag.hasPrefix("\"") && etag.hasSuffix("\"") && etag.count > 2 && !etag.hasPrefix("W/"))
        #expect(response.body == Pages.stylesheetBody)
        #expect(response.body.count < 8192)
    }

    @Test("A matching If-None-Match gets 304 with no body (RFC 9110 §13.1.2, §15.4.5)", arguments: [
        "\(Pages.stylesheetETag)", "W/\(Pages.stylesheetETag)", "\"other\", \(Pages.stylesheetETag)", "*",
    ])
    func stylesheetNotModified(condition: String) {
        let response = Pages.stylesheet(HTTPRequest(
            method: .GET, target: Pages.stylesheetPath, headers: HTTPHeaders([("If-None-Match", condition)])))
        #expect(response.status == .notModified)
        #expect(response.body.isEmpty)
        #expect(response.headers["ETag"] == Pages.stylesheetETag)
        #expect(response.headers["Cache-Control"] == "public, max-age=86400")
    }

    @Test("A stale If-None-Match gets the stylesheet")
    func stylesheetModified() {
        let response = Pages.stylesheet(HTTPRequest(
            method: .GET, target: Pages.stylesheetPath, headers: HTTPHeaders([("If-None-Match", "\"stale\"")])))
        #expect(response.status == .ok)
        #expect(response.body == Pages.stylesheetBody)
    }

    @Test("The stylesheet's braces balance and it styles what the pages use")
    func stylesheetShape() {
        let css = Pages.stylesheetSource
        #expect(css.filter { $0 == "{" }.count == css.filter { $0 == "}" }.count)
        for selector in [".card", ".error", "#deny", ":focus-visible", "@media (max-width", "system-ui"] {
            #expect(css.contains(selector), "\(selector)")
        }
        #expect(!css.contains("@import") && !css.contains("url("))
    }
}
