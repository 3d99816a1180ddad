/// Dispatches requests by exact path and method.
///
/// Each path is a resource that accepts the methods registered for it with `add`. The
/// router answers on its own:
/// - an unknown path: 404;
/// - `OPTIONS` on a known path (unless a handler is registered for it): 200 with `Allow` and
///   no content (RFC 9110 §9.3.7: "A server generating a successful response to OPTIONS SHOULD
///   send any header that might indicate optional features implemented by the server and
///   applicable to the target resource (e.g., Allow)"); `OPTIONS *`: 200 with no content;
/// - another method: 405 with `Allow` (RFC 9110 §15.5.6: "The origin server MUST generate an
///   Allow header field in a 405 response containing a list of the target resource's currently
///   supported methods"), unless the resource has a handler for other methods (`addOtherMethods`),
///   whose answer then carries the same `Allow`.
///
/// `HEAD` is served by the `GET` handler where no `HEAD` handler exists (the server drops the
/// body), so a resource with `GET` also lists `HEAD`.
public struct Router: HTTPResponder {
    public typealias Handler = @Sendable (HTTPRequest) async -> HTTPResponse

    private struct Resource {
        var handlers: [HTTPMethod: Handler] = [:]
        /// Answers methods the resource does not accept, instead of the router's 405.
        var otherMethods: Handler?
        /// The `Allow` value: the accepted methods, sorted.
        var allow = ""

        mutating func updateAllow() {
            var methods = Set(handlers.keys.map(\.rawValue))
            if methods.contains(HTTPMethod.GET.rawValue) {
                methods.insert(HTTPMethod.HEAD.rawValue)
            }
            allow = methods.sorted().joined(separator: ", ")
        }
    }

    private var resources: [String: Resource] = [:]

    public init() {}

    /// Every path with at least one handler.
    public var paths: Set<String> { Set(resources.keys) }

    /// Registers `handler` for `method` on exactly `path`, replacing an earlier registration;
    /// `method` becomes one of the methods the resource accepts (and lists in `Allow`).
    public mutating func add(_ method: HTTPMethod, _ path: String, _ handler: @escaping Handler) {
        resources[path, default: Resource()].handlers[method] = handler
        resources[path]?.updateAllow()
    }

    /// Registers `handler` for every method `path` does not accept, in place of the router's
    /// 405, for endpoints whose specification prescribes another answer (an OAuth endpoint that
    /// answers `invalid_request` to anything but POST, RFC 6749 §3.2). The router adds `Allow`
    /// to its responses; `OPTIONS` is still answered by the router.
    public mutating func addOtherMethods(_ path: String, _ handler: @escaping Handler) {
        resources[path, default: Resource()].otherMethods = handler
    }

    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        if request.method == .OPTIONS && request.target == "*" {
            // RFC 9110 §9.3.7: "OPTIONS *" asks about the server in general.
            return HTTPResponse(status: .ok)
        }
        guard let resource = resources[request.path] else {
            return .text(.notFound, "Not Found")
        }
        if let handler = resource.handlers[request.method] {
            return await handler(request)
        }
        if request.method == .HEAD, let handler = resource.handlers[.GET] {
            return await handler(request)
        }
        var headers = HTTPHeaders()
        headers.add(name: "Allow", value: resource.allow)
        if request.method == .OPTIONS {
            return HTTPResponse(status: .ok, headers: headers)
        }
        if let otherMethods = resource.otherMethods {
            var response = await otherMethods(request)
            response.headers.replaceOrAdd(name: "Allow", value: resource.allow)
            return response
        }
        return .text(.methodNotAllowed, "Method Not Allowed", headers: headers)
    }
}
