import Testing
@testable import HTTPServer

/// The router driven in process, without sockets.
@Suite struct RouterTests {
    @Test("Exact path and method reach the handler; the query is not part of the path")
    func exactMatch() async {
        let response = await testRouter().respond(to: HTTPRequest(method: .GET, target: "/hello?x=1"))
        #expect(response.status == .ok)
        #expect(response.body == Array("hello".utf8))
    }

    @Test("Unknown path answers 404")
    func unknownPath() async {
        #expect(await testRouter().respond(to: HTTPRequest(method: .GET, target: "/hello/")).status == .notFound)
    }

    @Test("Known path with another method answers 405 with Allow (RFC 9110 §15.5.6)")
    func methodNotAllowed() async {
        let response = await testRouter().respond(to: HTTPRequest(method: .PUT, target: "/echo"))
        #expect(response.status == .methodNotAllowed)
        #expect(response.headers["allow"] == "POST")
    }

    @Test("Allow lists exactly the methods the resource accepts, with HEAD where GET is (RFC 9110 §15.5.6)")
    func allowListsAcceptedMethods() async {
        var router = Router()
        router.add(.GET, "/r") { _ in HTTPResponse() }
        router.add(.POST, "/r") { _ in HTTPResponse() }
        router.add(.DELETE, "/d") { _ in HTTPResponse() }
        let r = await router.respond(to: HTTPRequest(method: .PATCH, target: "/r"))
        #expect(r.status == .methodNotAllowed)
        #expect(r.headers["Allow"] == "GET, HEAD, POST")
        let d = await router.respond(to: HTTPRequest(method: .GET, target: "/d"))
        #expect(d.status == .methodNotAllowed)
        #expect(d.headers["Allow"] == "DELETE")
    }

    @Test("A handler for other methods answers them in place of 405, and its answer carries Allow")
    func otherMethodsHandler() async {
        var router = Router()
        router.add(.POST, "/token") { _ in HTTPResponse(body: Array("post".utf8)) }
        router.addOtherMethods("/token") { request in
            HTTPResponse(status: .badRequest, headers: ["Allow": "GET"], body: Array("not \(request.method)".utf8))
        }
        let post = await router.respond(to: HTTPRequest(method: .POST, target: "/token"))
        #expect(post.status == .ok)
        #expect(post.headers["Allow"] == nil)
        for method in [HTTPMethod.GET, .HEAD, .PUT, .DELETE, .PATCH, HTTPMethod(rawValue: "TRACE")] {
            let other = await router.respond(to: HTTPRequest(method: method, target: "/token"))
            #expect(other.status == .badRequest)
            #expect(other.body == Array("not \(method)".utf8))
            #expect(other.headers.values(for: "Allow") == ["POST"])
        }
    }

    @Test("OPTIONS answers 200 with Allow and no content (RFC 9110 §9.3.7)")
    func optionsListsMethods() async {
        var router = testRouter()
        router.addOtherMethods("/echo") { _ in HTTPResponse(status: .badRequest) }
        for (path, allow) in [("/hello", "GET, HEAD"), ("/echo", "POST")] {
            let response = await router.respond(to: HTTPRequest(method: .OPTIONS, target: path))
            #expect(response.status == .ok)
            #expect(response.headers["Allow"] == allow)
            #expect(response.body.isEmpty)
        }
        let server = await router.respond(to: HTTPRequest(method: .OPTIONS, target: "*"))
        #expect(server.status == .ok)
        #expect(server.body.isEmpty)
        #expect(await router.respond(to: HTTPRequest(method: .OPTIONS, target: "/nope")).status == .notFound)
    }

    @Test("An OPTIONS handler, when registered, answers OPTIONS itself")
    func optionsHandler() async {
        var router = Router()
        router.add(.OPTIONS, "/o") { _ in HTTPResponse(status: .noContent) }
        #expect(await router.respond(to: HTTPRequest(method: .OPTIONS, target: "/o")).status == .noContent)
    }

    @Test("An immediate route is answered by respondImmediately, and by respond the same way")
    func immediateRoute() async {
        let router = testRouter()
        let now = router.respondImmediately(to: HTTPRequest(method: .GET, target: "/fast"))
        #expect(now?.body == Array("fast".utf8))
        #expect(await router.respond(to: HTTPRequest(method: .GET, target: "/fast")).body == Array("fast".utf8))
        #expect(router.respondImmediately(to: HTTPRequest(method: .HEAD, target: "/fast"))?.status == .ok)
    }

    @Test("A fast path that returns nil hands the request to its asynchronous handler; respond uses the handler")
    func immediateOrAsynchronous() async {
        let router = testRouter()
        #expect(router.respondImmediately(to: HTTPRequest(method: .GET, target: "/maybe?now"))?.body == Array("now".utf8))
        #expect(router.respondImmediately(to: HTTPRequest(method: .GET, target: "/maybe?later")) == nil)
        #expect(await router.respond(to: HTTPRequest(method: .GET, target: "/maybe?later")).body == Array("later".utf8))
        #expect(await router.respond(to: HTTPRequest(method: .GET, target: "/maybe?now")).body == Array("later".utf8))
    }

    @Test("The router's own answers (404, 405, OPTIONS) are immediate; asynchronous routes and other-method handlers are not")
    func immediateAnswers() {
        var router = testRouter()
        router.addOtherMethods("/echo") { _ in HTTPResponse(status: .badRequest) }
        #expect(router.respondImmediately(to: HTTPRequest(method: .GET, target: "/nope"))?.status == .notFound)
        #expect(router.respondImmediately(to: HTTPRequest(method: .POST, target: "/hello"))?.status == .methodNotAllowed)
        #expect(router.respondImmediately(to: HTTPRequest(method: .OPTIONS, target: "/echo"))?.headers["Allow"] == "POST")
        #expect(router.respondImmediately(to: HTTPRequest(method: .OPTIONS, target: "*"))?.status == .ok)
        #expect(router.respondImmediately(to: HTTPRequest(method: .GET, target: "/hello")) == nil)
        #expect(router.respondImmediately(to: HTTPRequest(method: .PUT, target: "/echo")) == nil)
    }

    @Test("HEAD is answered by the GET handler")
    func headUsesGet() async {
        let response = await testRouter().respond(to: HTTPRequest(method: .HEAD, target: "/healthz"))
        #expect(response.status == .ok)
        #expect(response.body == Array("ok".utf8))
    }
}
