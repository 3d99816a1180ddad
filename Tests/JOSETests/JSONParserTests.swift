import Testing
@testable import JOSE

@Suite struct JSONParserTests {
    func parse(_ text: String) throws -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    @Test("Parses every JSON value kind")
    func values() throws {
        #expect(try parse(#" {"a" : [1, -2.5e3, true, false, null, "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"], "b": {}} "#) == .object([
            "a": .array([.number(1), .number(-2500), .bool(true), .bool(false), .null, .string("x\"\\/\u{8}\u{C}\n\r\té😀")]),
            "b": .object([:]),
        ]))
        #expect(try parse("0") == .number(0))
        #expect(try parse(#""é""#) == .string("é"))
    }

    @Test("Duplicate member names are refused (RFC 7515 §4)")
    func duplicates() {
        #expect(throws: JSONParser.Failure.self) { try parse(#"{"a":1,"a":2}"#) }
        #expect(throws: JSONParser.Failure.self) { try parse(#"{"a":1,"b":{"c":1,"c":1}}"#) }
        // Escapes are resolved before comparing names.
        #expect(throws: JSONParser.Failure.self) { try parse(#"{"alg":1,"\u0061lg":2}"#) }
    }

    @Test("Invalid JSON is refused", arguments: [
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "\"abc",
        "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\u{01}b\"", "{a:1}",
        "[1 2]", "{\"a\" 1}", "1 2", "NaN", "Infinity", "1e999", "'a'", "[1]]", "\u{FEFF}1",
    ])
    func invalid(_ text: String) {
        #expect(throws: JSONParser.Failure.self) { try parse(text) }
    }

    @Test("Nesting deeper than the limit is refused")
    func depth() throws {
        let ok = String(repeating: "[", count: JSONParser.maximumDepth) + String(repeating: "]", count: JSONParser.maximumDepth)
        #expect(throws: Never.self) { try parse(ok) }
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParser.Failure.self) { try parse(deep) }
    }

    @Test("Invalid UTF-8 in strings is refused")
    func invalidUTF8() {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0xC3, 0x22]) }
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0xED, 0xA0, 0x80, 0x22]) }
        // The same bytes before and after an escape (the other path through the string reader).
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0xC3, 0x5C, 0x6E, 0x22]) }
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0x5C, 0x6E, 0xC3, 0x22]) }
    }

    @Test("Strings with and without escapes read the same text, split at every offset of the input")
    func stringsWithAndWithoutEscapes() throws {
        let cases: [(String, String)] = [
            (#""plain é 😀""#, "plain é 😀"), (#""""#, ""), (#""a\"b""#, "a\"b"), (#""\u00e9x""#, "éx"),
            (#""x\n""#, "x\n"), (#""é\\é""#, "é\\é"),
        ]
        for (json, expected) in cases {
            #expect(try parse(json) == .string(expected))
            #expect(try parse("[" + json + "," + json + "]") == .array([.string(expected), .string(expected)]))
            let bytes = Array(json.utf8)
            for cut in 0..<bytes.count {
                #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array(bytes[..<cut])) }
            }
        }
        #expect(throws: JSONParser.Failure.self) { try parse("\"tab\there\"") }
    }
}
