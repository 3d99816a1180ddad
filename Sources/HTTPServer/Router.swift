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
///
/// A route is answered on the event-loop thread (`respondImmediately(to:)`, see `HTTPResponder`)
/// when it has an immediate handler (`addImmediate`, or `add(_:_:immediate:otherwise:)`) that gives an answer; the router's own answers (404, 405,
/// `OPTIONS`) are immediate too. Everything else runs as a task (`respond(to:)`).
public struct Router: HTTPResponder {
    /// Answers a request as a Swift task: may wait for I/O.
    public typealias Handler = @Sendable (HTTPRequest) async -> HTTPResponse
    /// Answers a request on the event-loop thread that read it, or returns nil to hand it to the
    /// route's `Handler`. Must not block, wait or do I/O (see `HTTPResponder`).
    public typealias ImmediateHandler = @Sendable (HTTPRequest) -> HTTPResponse?

    private enum Route {
        case asynchronous(Handler)
        case immediate(@Sendable (HTTPRequest) -> HTTPResponse)
        case immediateOrAsynchronous(ImmediateHandler, Handler)
    }

    private struct Resource {
        var routes: [HTTPMethod: Route] = [:]
        /// Answers methods the resource does not accept, instead of the router's 405.
        var otherMethods: Handler?
        /// The `Allow` value: the accepted methods, sorted.
        var allow = ""

        mutating func updateAllow() {
            var methods = Set(routes.keys.map(\.rawValue))
            if methods.contains(HTTPMethod.GET.rawValue) {
                methods.insert(HTTPMethod.HEAD.rawValue)
            }
            allow = methods.sorted().joined(separator: ", ")
        }

        /// The route that serves `method`: its own, or GET's for HEAD.
        func route(for method: HTTPMethod) -> Route? {
            if let route = routes[method] { return route }
            if method == .HEAD { return routes[.GET] }
            return nil
        }
    }

    private var resources: [String: Resource] = [:]

    public init() {}

    /// Every path with at least one handler.
    public var paths: Set<String> { Set(resources.keys) }

    /// Registers `handler` for `method` on exactly `path`, replacing an earlier registration;
    /// `method` becomes one of the methods the resource accepts (and lists in `Allow`).
    public mutating func add(_ method: HTTPMethod, _ path: String, _ handler: @escaping Handler) {
        set(.asynchronous(handler), method, path)
    }

    /// Registers a handler that always answers on the event-loop thread, for responses that
    /// need no I/O (a health check, a document held in memory). See `HTTPResponder` for what it
    /// may do. (A name of its own, so that a synchronous closure given to `add` never becomes
    /// immediate by overload resolution.)
    public mutating func addImmediate(_ method: HTTPMethod, _ path: String, _ immediate: @escaping @Sendable (HTTPRequest) -> HTTPResponse) {
        set(.immediate(immediate), method, path)
    }

    /// Registers a fast path with its fallback: `immediate` runs first on the event-loop thread;
    /// when it returns nil, `handler` runs as a task. `immediate` answers only what it can without
    /// I/O (for example a request whose client is already verified in memory), and its answer must
    /// be exactly what `handler` would give: callers of `respond(to:)` get `handler`'s.
    public mutating func add(_ method: HTTPMethod, _ path: String, immediate: @escaping ImmediateHandler, otherwise handler: @escaping Handler) {
        set(.immediateOrAsynchronous(immediate, handler), method, path)
    }

    private mutating func set(_ route: Route, _ method: HTTPMethod, _ path: String) {
        resources[path, default: Resource()].routes[method] = route
        resources[path]?.updateAllow()
    }

    /// Registers `handler` for every method `path` does not accept, in place of the router's
    /// 405, for endpoints whose specification prescribes another answer (an OAuth endpoint that
    /// answers `invalid_request` to anything but POST, RFC 6749 §3.2). The router adds `Allow`
    /// to its responses; `OPTIONS` is still answered by the router.
    public mutating func addOtherMethods(_ path: String, _ handler: @escaping Handler) {
        resources[path, default: Resource()].otherMethods = handler
    }

    public func respondImmediately(to request: HTTPRequest) -> HTTPResponse? {
        switch lookUp(request) {
        case .answer(let response):
            return response
        case .route(.asynchronous):
            return nil
        case .route(.immediate(let immediate)):
            return immediate(request)
        case .route(.immediateOrAsynchronous(let immediate, _)):
            return immediate(request)
        case .otherMethods:
            return nil
        }
    }

    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        switch lookUp(request) {
        case .answer(let response):
            return response
        case .route(.asynchronous(let handler)), .route(.immediateOrAsynchronous(_, let handler)):
            return await handler(request)
        case .route(.immediate(let immediate)):
            return immediate(request)
        case .otherMethods(let handler, let allow):
            var response = await handler(request)
            response.headers.replaceOrAdd(name: "Allow", value: allow)
            return response
        }
    }

    private enum LookUp {
        /// The router answers by itself.
        case answer(HTTPResponse)
        case route(Route)
        case otherMethods(Handler, allow: String)
    }

    private func lookUp(_ request: HTTPRequest) -> LookUp {
        if request.method == .OPTIONS && request.target == "*" {
            // RFC 9110 §9.3.7: "OPTIONS *" asks about the server in general.
            return .answer(HTTPResponse(status: .ok))
        }
        guard let resource = resources[request.path] else {
            return .answer(.text(.notFound, "Not Found"))
        }
        if let route = resource.route(for: request.method) {
            return .route(route)
        }
        var headers = HTTPHeaders()
        headers.add(name: "Allow", value: resource.allow)
        if request.method == .OPTIONS {
            return .answer(HTTPResponse(status: .ok, headers: headers))
        }
        if let otherMethods = resource.otherMethods {
            return .otherMethods(otherMethods, allow: resource.allow)
        }
        return .answer(.text(.methodNotAllowed, "Method Not Allowed", headers: headers))
    }
}
