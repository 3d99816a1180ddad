import HTTPServer
import OAuth

/// What every browser endpoint shares: its rate limit, the cross-site check of form posts,
/// redirects, and how a request's parameters are read.
struct BrowserResponses: Sendable {
    let issuer: Issuer
    let limits: RateLimits

    /// Throws ``RateLimited`` when this source has made too many browser requests.
    func enforceRateLimit(_ request: HTTPRequest) throws(RateLimited) {
        try limits.enforce(limits.browser, key: SourceAddressKey.of(request.remoteAddress))
    }

    /// Whether a state-changing form post comes from another site, as far as the browser says:
    /// a second line of defence behind the CSRF token (OWASP's origin verification).
    ///
    /// `Origin` decides when it names an origin. Our pages set `Referrer-Policy: no-referrer`, so
    /// browsers send `Origin: null` for our own forms; then `Sec-Fetch-Site` decides (`same-origin`
    /// only), and without it `Referer`. A request carrying none of them (an old browser, a
    /// non-browser client) is left to the CSRF token.
    func isCrossSite(_ request: HTTPRequest) -> Bool {
        if let origin = request.headers["Origin"]?.trimmingCharacters(in: .whitespaces), origin != "null" {
            return origin.lowercased() != issuer.origin
        }
        if let site = request.headers["Sec-Fetch-Site"]?.trimmingCharacters(in: .whitespaces).lowercased() {
            return site != "same-origin"
        }
        if let referer = request.headers["Referer"] {
            let lowered = referer.lowercased()
            return !(lowered == issuer.origin || lowered.hasPrefix(issuer.origin + "/") || lowered.hasPrefix(issuer.origin + "?"))
        }
        return false
    }

    /// Throws ``CrossSitePost`` when ``isCrossSite(_:)``: the error answers 403 with its page.
    func refuseCrossSite(_ request: HTTPRequest) throws(CrossSitePost) {
        if isCrossSite(request) { throw CrossSitePost(origin: String((request.headers["Origin"] ?? "").prefix(200))) }
    }

    /// A 303 to `location` (RFC 9700 §4.11: 303 so that a form post is never repeated at the client).
    static func redirect(_ location: String, headers extra: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var headers = HTTPHeaders([("Location", location), ("Cache-Control", "no-store"), ("Pragma", "no-cache"),
                                   ("Referrer-Policy", "no-referrer")])
        for field in extra { headers.add(name: field.name, value: field.value) }
        return HTTPResponse(status: .seeOther, headers: headers)
    }

    /// The name a page shows for a client.
    static func displayName(_ client: Client) -> String { client.name.isEmpty ? client.id : client.name }

    /// The parameters of a browser request: the query of a GET, the form body of a POST.
    static func parameterBytes(_ request: HTTPRequest) throws(AuthorizationPageError) -> [UInt8] {
        switch request.method {
        case .GET, .HEAD:
            return Array((request.query ?? "").utf8)
        case .POST:
            guard request.hasFormBody else {
                throw AuthorizationPageError("The form must be sent as application/x-www-form-urlencoded.")
            }
            return request.body
        default:
            throw AuthorizationPageError("This page accepts only GET and POST.")
        }
    }

    /// A form post's fields; a repeated field is refused.
    static func form(_ request: HTTPRequest) throws -> [String: String] {
        guard request.method == .POST, request.hasFormBody else {
            throw AuthorizationPageError("The form must be posted as application/x-www-form-urlencoded.")
        }
        do {
            return try FormURLEncoded.parameters(request.body)
        } catch {
            throw AuthorizationPageError("The form is malformed.")
        }
    }
}

/// A state-changing form post the browser says came from another site; answered 403.
struct CrossSitePost: Error {
    let origin: String
}
