/// Dispatches requests by exact path and method.
///
/// An unknown path answers 404; a known path with another method answers 405
/// with `Allow` (RFC 9110 §15.5.6: "The origin server MUST generate an Allow
/// header field in a 405 response"). HEAD is served by the GET handler where
/// no HEAD handler exists; the server drops the body.
public struct Router: HTTPResponder {
    public typealias Handler = @Sendable (HTTPRequest) async -> HTTPResponse

    private var routes: [String: [HTTPMethod: Handler]] = [:]

    public init() {}

    /// Every path with at least one handler.
    public var paths: Set<String> { Set(routes.keys) }

    /// Registers `handler` for `method` on exactly `path`, replacing an earlier registration.
    public mutating func add(_ method: HTTPMethod, _ path: String, _ handler: @escaping Handler) {
        routes[path, default: [:]][method] = handler
    }

    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        guard let methods = routes[request.path] else {
            return .text(.notFound, "Not Found")
        }
        if let handler = methods[request.method] {
            return await handler(request)
        }
        if request.method == .HEAD, let handler = methods[.GET] {
            return await handler(request)
        }
        var allowed = Set(methods.keys.map(\.rawValue))
        if allowed.contains("GET") {
            allowed.insert("HEAD")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Allow", value: allowed.sorted().joined(separator: ", "))
        return .text(.methodNotAllowed, "Method Not Allowed", headers: headers)
    }
}
