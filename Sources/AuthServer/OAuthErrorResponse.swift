import HTTPServer
import OAuth
import Postgres

/// The one place an error becomes an HTTP response (RFC 6749 §5.2, RFC 6750 §3.1).
enum OAuthErrorResponse {
    /// Headers of every JSON response that carries or may carry a token or credential:
    /// RFC 6749 §5.1: "The authorization server MUST include the HTTP "Cache-Control"
    /// response header field with a value of "no-store" in any response containing
    /// tokens, credentials, or other sensitive information, as well as the "Pragma"
    /// response header field with a value of "no-cache"."
    static var noStoreJSON: HTTPHeaders {
        HTTPHeaders([("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Pragma", "no-cache")])
    }

    /// - Parameters:
    ///   - authorizationScheme: the scheme the client used in its Authorization header, if any.
    ///   - retryAfter: seconds for `Retry-After` (503 and throttled 401s).
    static func response(_ error: OAuthError, authorizationScheme: String? = nil, retryAfter: Int? = nil) -> HTTPResponse {
        var headers = noStoreJSON
        let status: HTTPStatus
        switch error.code {
        case .invalidClient:
            // RFC 6749 §5.2: "If the client attempted to authenticate via the "Authorization"
            // request header field, the authorization server MUST respond with an HTTP 401
            // (Unauthorized) status code and include the "WWW-Authenticate" response header
            // field matching the authentication scheme used by the client."
            status = .unauthorized
            if let scheme = authorizationScheme {
                headers.add(name: "WWW-Authenticate", value: "\(scheme) realm=\"tessera\"")
            }
        case .invalidToken:
            status = .unauthorized
            // RFC 6750 §3: the error travels in WWW-Authenticate (a quoted-string: no '"' or '\\' in sanitizedDescription).
            headers.add(name: "WWW-Authenticate", value: "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"\(error.sanitizedDescription)\"")
        case .insufficientScope:
            status = .forbidden
            headers.add(name: "WWW-Authenticate", value: "Bearer realm=\"tessera\", error=\"insufficient_scope\", error_description=\"\(error.sanitizedDescription)\"")
        case .serverError:
            status = .internalServerError
        case .temporarilyUnavailable:
            status = .serviceUnavailable
        default:
            status = .badRequest
        }
        if let retryAfter { headers.add(name: "Retry-After", value: "\(max(1, retryAfter))") }
        else if error.code == .temporarilyUnavailable { headers.add(name: "Retry-After", value: "1") }
        let description = error.code == .serverError ? "The server could not complete the request." : error.sanitizedDescription
        let body = "{\"error\":\"\(error.code.rawValue)\",\"error_description\":\(JSONText.string(description))}"
        return HTTPResponse(status: status, headers: headers, body: Array(body.utf8))
    }

    /// The response for any error of a JSON endpoint: 429 with `Retry-After` for a rate limit,
    /// else ``map(_:)`` and ``response(_:authorizationScheme:retryAfter:)``.
    static func response(for error: any Error, authorizationScheme: String?) -> HTTPResponse {
        if let limited = error as? RateLimited { return rateLimited(limited) }
        return response(map(error), authorizationScheme: authorizationScheme, retryAfter: (error as? ThrottledFailure)?.retryAfter)
    }

    /// 429 Too Many Requests (RFC 6585 §4) in the RFC 6749 §5.2 shape, with `Retry-After`.
    static func rateLimited(_ limited: RateLimited) -> HTTPResponse {
        var headers = noStoreJSON
        headers.add(name: "Retry-After", value: "\(limited.retryAfter)")
        let body = "{\"error\":\"temporarily_unavailable\",\"error_description\":\"Too many requests; try again in \(limited.retryAfter) s.\"}"
        return HTTPResponse(status: .tooManyRequests, headers: headers, body: Array(body.utf8))
    }

    /// Maps any error: an ``OAuthError`` as it is; PostgreSQL being unreachable or
    /// overloaded as `temporarily_unavailable`; anything else as `server_error`.
    static func map(_ error: any Error) -> OAuthError {
        switch error {
        case let error as OAuthError:
            return error
        case let throttled as ThrottledFailure:
            return throttled.error
        case let error as PostgresError where error.sqlState == SQLState(rawValue: "22021") || error.sqlState == SQLState(rawValue: "22P05"):
            // A value PostgreSQL cannot store as text (NUL, or not in the encoding) came from the request.
            return OAuthError.invalidRequest("The request contains characters that cannot be accepted.", detail: "database: \(error)")
        case let error as PostgresError where error.isConnectionFailure || error.kind == .poolExhausted || error.kind == .closed || error.kind == .timedOut:
            return OAuthError(.temporarilyUnavailable, OAuthError.temporarilyUnavailable.errorDescription, detail: "database: \(error)")
        default:
            return .serverError(detail: "\(error)")
        }
    }
}
