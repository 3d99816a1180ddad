import HTTPServer
import JOSE

/// What the login page shows and carries.
struct LoginPageModel: Sendable {
    /// The opaque id of the pending authorization request.
    var interaction: String
    var csrfToken: String
    var clientName: String
    /// The pre-filled username: the `login_hint`, or what was typed before a failed attempt.
    var username: String = ""
    /// Shown in an alert above the form, e.g. "Invalid username or password."
    var errorMessage: String? = nil
}

/// What the consent page shows and carries.
struct ConsentPageModel: Sendable {
    var interaction: String
    var csrfToken: String
    var clientName: String
    var clientID: String
    /// The signed-in user.
    var username: String
    /// The requested scopes, each shown with a description when it is one we know.
    var scopes: [String]
}

/// What the RP-initiated logout confirmation shows and carries.
struct LogoutPageModel: Sendable {
    var csrfToken: String
    /// Hidden fields carried into the POST (e.g. id_token_hint, client_id, post_logout_redirect_uri, state), in order.
    var fields: [(name: String, value: String)]
    /// The client asking for the logout, when it is known.
    var clientName: String?
}

/// The server-rendered pages of the browser login, and their stylesheet.
///
/// The pages work without JavaScript and contain none, nor any inline style,
/// so the Content-Security-Policy can forbid both (see `HTMLPage.contentSecurityPolicy`).
enum Pages {
    private typealias Fragment = HTMLPage.Fragment

    /// The sign-in form, posted to `/login`.
    static func login(_ model: LoginPageModel, status: HTTPStatus = .ok, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        // Focus goes where typing starts: the password once the username is known.
        let usernameFocus: Fragment = model.username.isEmpty ? " autofocus" : ""
        let passwordFocus: Fragment = model.username.isEmpty ? "" : " autofocus"
        let alert: Fragment = model.errorMessage.map { message -> Fragment in "<div class=\"error\" role=\"alert\">\(message)</div>\n" } ?? ""
        let content: Fragment = """
            <h1>Sign in to continue to <strong>\(model.clientName)</strong></h1>
            \(alert)<form method="post" action="/login">
            \(HTMLPage.hiddenField(name: "interaction", value: model.interaction))
            \(HTMLPage.hiddenField(name: "csrf_token", value: model.csrfToken))
            <div class="field">
            <label for="username">Username</label>
            <input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value="\(model.username)"\(usernameFocus)>
            </div>
            <div class="field">
            <label for="password">Password</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required\(passwordFocus)>
            </div>
            <button type="submit" id="sign-in">Sign in</button>
            </form>
            """
        return HTMLPage.response(status: status, title: "Sign in", content: content, headers: headers)
    }

    /// The consent form, posted to `/consent` with `decision` set to `allow` or `deny`.
    static func consent(_ model: ConsentPageModel, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var seen: Set<String> = []
        let items = model.scopes.filter { seen.insert($0).inserted }.map(scopeItem)
        let list: Fragment = items.isEmpty
            ? "<p>It asks for no specific permissions.</p>"
            : "<p>It will be able to:</p>\n<ul class=\"scopes\">\n\(Fragment(joining: items))\n</ul>"
        let content: Fragment = """
            <h1><strong>\(model.clientName)</strong> wants to access your account</h1>
            <p class="muted">Signed in as <strong>\(model.username)</strong></p>
            \(list)
            <p class="muted">Client ID: <code>\(model.clientID)</code></p>
            <form method="post" action="/consent">
            \(HTMLPage.hiddenField(name: "interaction", value: model.interaction))
            \(HTMLPage.hiddenField(name: "csrf_token", value: model.csrfToken))
            <div class="actions">
            <button type="submit" name="decision" value="allow" id="allow">Allow</button>
            <button type="submit" name="decision" value="deny" id="deny">Deny</button>
            </div>
            </form>
            """
        return HTMLPage.response(status: .ok, title: "Allow access", content: content, headers: headers)
    }

    /// The page shown when a request cannot be sent back to the client (bad client_id or redirect_uri,
    /// bad CSRF token, expired interaction). Shows `title`, `message`, and the error `code` when given.
    static func error(status: HTTPStatus, title: String, message: String, code: String? = nil, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        let codeLine: Fragment = code.map { code -> Fragment in "\n<p class=\"muted\">Error code: <code>\(code)</code></p>" } ?? ""
        let content: Fragment = """
            <h1>\(title)</h1>
            <p>\(message)</p>\(codeLine)
            """
        return HTMLPage.response(status: status, title: title, content: content, headers: headers)
    }

    /// Field names the logout form sets itself; a carried field of the same name is left out so it cannot shadow them.
    private static let logoutFormOwnFields: Set<String> = ["csrf_token", "confirm"]

    /// The RP-initiated logout confirmation, posted to `/logout` with `confirm=yes`.
    static func logoutConfirmation(_ model: LogoutPageModel, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        let lead: Fragment = model.clientName.map { name -> Fragment in "<strong>\(name)</strong> asks you to sign out." } ?? "Do you want to sign out?"
        let hidden = [HTMLPage.hiddenField(name: "csrf_token", value: model.csrfToken)] + model.fields
            .filter { !logoutFormOwnFields.contains($0.name) }
            .map { HTMLPage.hiddenField(name: $0.name, value: $0.value) }
        let content: Fragment = """
            <h1>Sign out</h1>
            <p>\(lead)</p>
            <p class="muted">To stay signed in, close this page.</p>
            <form method="post" action="/logout">
            \(Fragment(joining: hidden))
            <button type="submit" name="confirm" value="yes" id="sign-out">Sign out</button>
            </form>
            """
        return HTMLPage.response(status: .ok, title: "Sign out", content: content, headers: headers)
    }

    /// The page shown after a logout that has nowhere to redirect to.
    static func signedOut(headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        let content: Fragment = """
            <h1>You are signed out</h1>
            <p>You can close this page.</p>
            """
        return HTMLPage.response(status: .ok, title: "Signed out", content: content, headers: headers)
    }

    /// A consent list item: the description of a scope we know, else its raw token.
    private static func scopeItem(_ scope: String) -> Fragment {
        if let description = scopeDescriptions[scope] {
            return "<li><span>\(description)</span> <code>\(scope)</code></li>"
        }
        return "<li><code>\(scope)</code></li>"
    }

    /// Plain-language descriptions of the scopes this server defines (OIDC Core §5.4, §11).
    static let scopeDescriptions: [String: String] = [
        "openid": "Confirm who you are",
        "profile": "See your name and basic profile information",
        "email": "See your email address",
        "offline_access": "Keep access while you are not using it",
    ]

    // MARK: Stylesheet

    static let stylesheetPath = "/assets/tessera.css"

    /// `GET /assets/tessera.css`: the one stylesheet, cacheable for a day and revalidated by its ETag.
    static func stylesheet(_ request: HTTPRequest) -> HTTPResponse {
        var headers = HTTPHeaders([
            ("Cache-Control", "public, max-age=86400"),
            ("ETag", stylesheetETag),
            ("X-Content-Type-Options", "nosniff"),
        ])
        // RFC 9110 §13.1.2: If-None-Match uses weak comparison; "*" matches any current representation.
        // RFC 9110 §15.4.5: a 304 carries the Cache-Control and ETag a 200 would have.
        if let condition = request.headers["If-None-Match"], WellKnownEndpoints.matches(condition, etag: stylesheetETag) {
            return HTTPResponse(status: .notModified, headers: headers)
        }
        headers.add(name: "Content-Type", value: "text/css; charset=utf-8")
        return HTTPResponse(status: .ok, headers: headers, body: stylesheetBody)
    }

    static let stylesheetBody: [UInt8] = Array(stylesheetSource.utf8)

    /// A strong validator derived from the bytes: every instance of the same build sends the same tag.
    static let stylesheetETag = "\"" + Base64URL.encode(Array(SHA256.hash(stylesheetBody).prefix(16))) + "\""

    /// Readable from a phone to a desktop, light and dark; text contrast is at least 4.5:1
    /// and control borders and focus rings at least 3:1 (WCAG 2.2 §1.4.3, §1.4.11).
    static let stylesheetSource = """
        :root {
          color-scheme: light dark;
          --page: #f3f4f6; --card: #ffffff; --text: #1b1f24; --muted: #57606a;
          --line: #d8dee4; --control: #6e7781; --accent: #1f5fbf; --accent-hover: #184c99; --on-accent: #ffffff;
          --focus: #1f5fbf; --code: #eef1f4;
          --error-bg: #fdecea; --error-line: #cf222e; --error-text: #86061d;
        }
        @media (prefers-color-scheme: dark) {
          :root {
            --page: #0d1117; --card: #161b22; --text: #e6edf3; --muted: #9ea7b3;
            --line: #30363d; --control: #7d8590; --accent: #4493f8; --accent-hover: #6cabff; --on-accent: #0d1117;
            --focus: #6cabff; --code: #21262d;
            --error-bg: #2d1417; --error-line: #f85149; --error-text: #ffb1ab;
          }
        }
        *, *::before, *::after { box-sizing: border-box; }
        html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
        body {
          margin: 0; min-height: 100vh; padding: 1.5rem 1rem;
          display: flex; align-items: center; justify-content: center;
          background: var(--page); color: var(--text);
          font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", Arial, sans-serif;
        }
        .card {
          width: 100%; max-width: 26rem; padding: 2rem 1.75rem;
          background: var(--card); border: 1px solid var(--line); border-radius: 12px;
          box-shadow: 0 1px 3px rgb(0 0 0 / 8%), 0 8px 24px rgb(0 0 0 / 6%);
          overflow-wrap: anywhere;
        }
        .brand {
          margin: 0 0 1rem; color: var(--muted);
          font-size: .8125rem; font-weight: 600; letter-spacing: .06em; text-transform: uppercase;
        }
        h1 { margin: 0 0 1rem; font-size: 1.375rem; line-height: 1.3; font-weight: 600; }
        h1 strong { font-weight: 700; }
        p { margin: 0 0 1rem; }
        .card > :last-child { margin-bottom: 0; }
        .muted { color: var(--muted); font-size: .875rem; }
        code {
          padding: .1em .35em; border-radius: 4px; background: var(--code);
          font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .875em;
        }
        .error {
          margin: 0 0 1.25rem; padding: .75rem 1rem;
          background: var(--error-bg); color: var(--error-text);
          border: 1px solid var(--error-line); border-left-width: 4px; border-radius: 8px;
        }
        .field { margin: 0 0 1rem; }
        label { display: block; margin: 0 0 .375rem; font-weight: 600; }
        input[type="text"], input[type="password"] {
          display: block; width: 100%; min-height: 2.75rem; padding: .5rem .75rem;
          font: inherit; color: inherit; background: var(--card);
          border: 1px solid var(--control); border-radius: 8px;
        }
        button {
          display: block; width: 100%; min-height: 2.75rem; margin: 1.5rem 0 0; padding: .5rem 1.25rem;
          font: inherit; font-weight: 600; cursor: pointer;
          color: var(--on-accent); background: var(--accent); border: 1px solid var(--accent); border-radius: 8px;
        }
        button:hover { background: var(--accent-hover); border-color: var(--accent-hover); }
        #deny { color: var(--text); background: transparent; border-color: var(--control); }
        #deny:hover { background: var(--page); }
        input:focus-visible, button:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
        .actions { display: flex; gap: .75rem; margin-top: 1.5rem; }
        .actions button { flex: 1 1 0; margin: 0; }
        .scopes { margin: 0 0 1rem; padding: 0; list-style: none; border: 1px solid var(--line); border-radius: 8px; }
        .scopes li { padding: .625rem .875rem; border-top: 1px solid var(--line); }
        .scopes li:first-child { border-top: 0; }
        .scopes span { display: block; margin-bottom: .25rem; }
        .scopes code { font-size: .8125em; }
        @media (max-width: 30rem) {
          body { padding: 0; align-items: stretch; }
          .card { max-width: none; padding: 1.5rem 1.25rem; border: 0; border-radius: 0; box-shadow: none; }
          .actions { flex-direction: column; }
          .actions button { flex: none; }
        }

        """
}
