import Testing
@testable import HTTPServer

@Suite struct HTTPHeadersTests {
    @Test("Lookup ignores case and keeps order; replaceOrAdd collapses repeats")
    func caseInsensitiveOrdered() {
        var headers = HTTPHeaders([("Accept", "a"), ("X-Two", "1"), ("x-two", "2")])
        #expect(headers["x-TWO"] == "1")
        #expect(headers.values(for: "X-Two") == ["1", "2"])
        #expect(headers.contains("ACCEPT"))
        headers.replaceOrAdd(name: "X-Two", value: "3")
        #expect(headers.values(for: "x-two") == ["3"])
        headers.add(name: "New", value: "n")
        #expect(headers.map(\.name) == ["Accept", "X-Two", "New"])
        headers.remove(name: "accept")
        #expect(!headers.contains("Accept"))
        #expect(headers["missing"] == nil)
    }
}
