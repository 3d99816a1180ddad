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

    @Test("HEAD is answered by the GET handler")
    func headUsesGet() async {
        let response = await testRouter().respond(to: HTTPRequest(method: .HEAD, target: "/healthz"))
        #expect(response.status == .ok)
        #expect(response.body == Array("ok".utf8))
    }
}
