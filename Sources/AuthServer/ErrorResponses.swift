import JOSE
import HTTPServer
import OAuth
import PasswordHashing

/// The one place an error becomes an HTTP response (RFC 6749 §5.2, RFC 6750 §3.1), as JSON for the
/// protocol endpoints and as a page for the browser ones, and the one wrapper every endpoint runs in.
enum ErrorResponses {
    /// Headers of every JSON response that carries or may carry a token or credential:
    /// RFC 6749 §5.1: "The authorization server MUST include the HTTP "Cache-Control"
    /// response header field with a value of "no-store" in any response containing
    /// tokens, credentials, or other sensitive information, as well as the "Pragma"
    /// response header field with a value of "no-cache"."
    static var noStoreJSON: HTTPHeaders {
        HTTPHeaders([("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Pragma", "no-cache")])
    }

    /// An error as the client is told it: the OAuth error, its status, and how long to wait.
    struct Answer {
        let error: OAuthError
        let status: HTTPStatus
        /// Seconds for `Retry-After` (503, 429 and throttled 401s).
        let retryAfter: Int?
    }

    /// Maps any error: an ``OAuthError`` as it is; a rate limit as 429; a throttled authentication as
    /// 401 with its wait; storage or Argon2 unable to answer now as `temporarily_unavailable`; a value
    /// storage cannot hold as `invalid_request`; a browser form or request that cannot continue as
    /// `invalid_request` (or `invalid_client` for an unknown client); anything else as `server_error`.
    static func answer(_ error: any Error) -> Answer {
        switch error {
        case let limited as RateLimited:
            return Answer(error: OAuthError(.temporarilyUnavailable, "Too many requests; try again in \(limited.retryAfter) s.", detail: "rate limit \(limited.limit)"),
                          status: .tooManyRequests, retryAfter: limited.retryAfter)
        case let throttled as ThrottledFailure:
            return Answer(error: throttled.error, status: status(of: throttled.error), retryAfter: throttled.retryAfter)
        case let error as OAuthError:
            return Answer(error: error, status: status(of: error), retryAfter: error.code == .temporarilyUnavailable ? 1 : nil)
        case let error as StorageUnavailable:
            return Answer(error: OAuthError(.temporarilyUnavailable, OAuthError.temporarilyUnavailable.errorDescription, detail: "\(error)"),
                          status: .serviceUnavailable, retryAfter: 1)
        case let error as Argon2PoolError:
            return Answer(error: OAuthError(.temporarilyUnavailable, OAuthError.temporarilyUnavailable.errorDescription, detail: "argon2 pool: \(error)"),
                          status: .serviceUnavailable, retryAfter: 1)
        case let error as StorageRejectedValue:
            // A value storage cannot hold as text (NUL, or not in the encoding) came from the request.
            return Answer(error: OAuthError.invalidRequest("The request contains characters that cannot be accepted.", detail: "\(error)"),
                          status: .badRequest, retryAfter: nil)
        case let error as AuthorizationPageError:
            return Answer(error: OAuthError(error.code, error.message, detail: error.detail, isRedirectable: false), status: .badRequest, retryAfter: nil)
        case let error as FormURLEncoded.DecodingError:
            return Answer(error: OAuthError.invalidRequest(TokenRequest.describe(error)), status: .badRequest, retryAfter: nil)
        case let error as InteractionRejected:
            return Answer(error: OAuthError.invalidRequest("This form has expired or was not sent from this browser.", detail: error.detail),
                          status: .badRequest, retryAfter: nil)
        case let error as CrossSitePost:
            return Answer(error: OAuthError.invalidRequest("The form was not sent from this site.", detail: "cross-site form post, origin \(error.origin)"),
                          status: .forbidden, retryAfter: nil)
        default:
            return Answer(error: .serverError(detail: "\(error)"), status: .internalServerError, retryAfter: nil)
        }
    }

    /// RFC 6749 §5.2 and RFC 6750 §3.1: 401 for `invalid_client` and `invalid_token`, 403 for
    /// `insufficient_scope`, 500 and 503 for the server's own trouble, 400 otherwise.
    static func status(of error: OAuthError) -> HTTPStatus {
        switch error.code {
        case .invalidClient, .invalidToken: .unauthorized
        case .insufficientScope: .forbidden
        case .serverError: .internalServerError
        case .temporarilyUnavailable: .serviceUnavailable
        default: .badRequest
        }
    }

    /// The JSON response for any error of a protocol endpoint.
    ///
    /// - Parameter authorizationScheme: the scheme the client used in its Authorization header, if any.
    static func json(_ error: any Error, authorizationScheme: String? = nil) -> HTTPResponse {
        let answer = answer(error)
        var headers = noStoreJSON
        switch answer.error.code {
        case .invalidClient:
            // RFC 6749 §5.2: "If the client attempted to authenticate via the "Authorization"
            // request header field, the authorization server MUST respond with an HTTP 401
            // (Unauthorized) status code and include the "WWW-Authenticate" response header
            // field matching the authentication scheme used by the client."
            if let scheme = authorizationScheme { headers.add(name: "WWW-Authenticate", value: "\(scheme) realm=\"tessera\"") }
        case .invalidToken, .insufficientScope:
            // RFC 6750 §3: the error travels in WWW-Authenticate (a quoted-string: no '"' or '\\' in sanitizedDescription).
            headers.add(name: "WWW-Authenticate", value: "Bearer realm=\"tessera\", error=\"\(answer.error.code.rawValue)\", "
                        + "error_description=\"\(answer.error.sanitizedDescription)\"")
        default:
            break
        }
        if let retryAfter = answer.retryAfter { headers.add(name: "Retry-After", value: "\(max(1, retryAfter))") }
        let description = answer.error.code == .serverError ? "The server could not complete the request." : answer.error.sanitizedDescription
        let body = "{\"error\":\"\(answer.error.code.rawValue)\",\"error_description\":\(JSONText.string(description))}"
        return HTTPResponse(status: answer.status, headers: headers, body: Array(body.utf8))
    }

    /// The page for any error of a browser endpoint that cannot be answered at a redirect URI.
    static func page(_ error: any Error) -> HTTPResponse {
        let answer = answer(error)
        var headers = HTTPHeaders()
        if let retryAfter = answer.retryAfter { headers.add(name: "Retry-After", value: "\(max(1, retryAfter))") }
        let code = answer.error.code.rawValue
        switch error {
        case let error as AuthorizationPageError:
            return Pages.error(status: answer.status, title: "This sign-in request cannot be completed",
                               message: error.message + " Go back to the application and try again.", code: code)
        case is InteractionRejected:
            return Pages.error(status: answer.status, title: "This sign-in request cannot be completed",
                               message: "This form has expired or was not sent from this browser. Go back to the application and sign in again.",
                               code: code)
        case is CrossSitePost:
            return Pages.error(status: .forbidden, title: "This form cannot be accepted",
                               message: "The form was not sent from this site. Go back to the application and sign in again.", code: code)
        case let limited as RateLimited:
            return Pages.error(status: answer.status, title: "Too many requests",
                               message: "Too many requests came from your network. Try again in \(limited.retryAfter) second\(limited.retryAfter == 1 ? "" : "s").",
                               headers: headers)
        default:
            break
        }
        switch answer.status {
        case .serviceUnavailable:
            return Pages.error(status: answer.status, title: "Temporarily unavailable",
                               message: "The sign-in service is temporarily unavailable. Try again in a moment.", code: code, headers: headers)
        case .internalServerError:
            return Pages.error(status: answer.status, title: "Something went wrong", message: "The server could not complete the request.", code: code)
        default:
            return Pages.error(status: answer.status, title: "This request cannot be completed",
                               message: answer.error.sanitizedDescription, code: code, headers: headers)
        }
    }

    /// Logs a refused or failed request at the severity it deserves: server errors as errors, the
    /// server's own unavailability as warnings, the client's mistakes as information.
    static func log(_ error: any Error, _ what: String, _ request: HTTPRequest, logger: Logger) {
        let answer = answer(error)
        let fields: KeyValuePairs<String, String> = ["error": answer.error.code.rawValue, "detail": answer.error.detail ?? answer.error.errorDescription,
                                                     "path": request.path, "remote": request.remoteAddress]
        switch answer.error.code {
        case .serverError: logger.error("\(what) failed", fields)
        case .temporarilyUnavailable: logger.warning("\(what) refused", fields)
        case .loginRequired, .consentRequired: logger.debug("\(what) needs interaction", fields)
        default: logger.info("\(what) refused", fields)
        }
    }

    /// The wrapper of every JSON endpoint: runs `body`, and answers whatever it throws as JSON.
    static func json(_ what: String, _ request: HTTPRequest, logger: Logger, authorizationScheme: String? = nil,
                     _ body: () async throws -> HTTPResponse) async -> HTTPResponse {
        do {
            return try await body()
        } catch {
            log(error, what, request, logger: logger)
            return json(error, authorizationScheme: authorizationScheme)
        }
    }

    /// The wrapper of every browser endpoint: runs `body`, and answers whatever it throws as a page.
    static func page(_ what: String, _ request: HTTPRequest, logger: Logger, _ body: () async throws -> HTTPResponse) async -> HTTPResponse {
        do {
            return try await body()
        } catch {
            log(error, what, request, logger: logger)
            return page(error)
        }
    }
}

/// An `invalid_client` answered with `Retry-After` because the client or address is throttled.
struct ThrottledFailure: Error {
    let error: OAuthError
    let retryAfter: Int
}

/// Why a browser form post cannot continue: shown as an error page, never redirected (nothing
/// in the post is trusted enough to choose where to send the browser).
struct InteractionRejected: Error {
    let detail: String
}
