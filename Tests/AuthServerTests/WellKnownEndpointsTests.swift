import Testing
@testable import AuthServer

@Suite struct WellKnownEndpointsTests {
    @Test("If-None-Match matching follows RFC 9110 §13.1.2 weak comparison", arguments: [
        ("\"abc\"", true), ("W/\"abc\"", true), ("\"x\", \"abc\"", true), ("*", true),
        ("\"abd\"", false), ("abc", false), ("", false),
    ])
    func etagMatching(header: String, matches: Bool) {
        #expect(WellKnownEndpoints.matches(header, etag: "\"abc\"") == matches)
    }
}
