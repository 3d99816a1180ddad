import Testing
@testable import JOSE

@Suite struct JSONTextTests {
    @Test("Strings that need no escaping are written whole, others escaped (RFC 8259 §7, RFC 7638 §3.3)")
    func quoting() throws {
        #expect(JSONText.string("ES256") == #""ES256""#)
        #expect(JSONText.string("") == #""""#)
        #expect(JSONText.string("é 😀 \u{7F}") == "\"é 😀 \u{7F}\"")
        #expect(JSONText.string(#"a"b"#) == #""a\"b""#)
        #expect(JSONText.string(#"a\b"#) == #""a\\b""#)
        #expect(JSONText.string("a\nb\u{01}") == #""a\nb\u0001""#)
        // Whatever is written parses back to the same string.
        for value in ["ES256", "é\"\\\u{00}\u{1F} x", "kid with spaces", "at+jwt"] {
            #expect(try JSONParser.parse(Array(JSONText.string(value).utf8)) == .string(value))
        }
    }
}
