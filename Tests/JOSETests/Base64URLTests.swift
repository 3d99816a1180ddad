import Testing
@testable import JOSE

@Suite struct Base64URLTests {
    @Test("Encodes without padding using the URL-safe alphabet (RFC 7515 §2)")
    func encodes() {
        #expect(Base64URL.encode([UInt8]()) == "")
        #expect(Base64URL.encode("f") == "Zg")
        #expect(Base64URL.encode("fo") == "Zm8")
        #expect(Base64URL.encode("foo") == "Zm9v")
        #expect(Base64URL.encode("foob") == "Zm9vYg")
        #expect(Base64URL.encode("fooba") == "Zm9vYmE")
        #expect(Base64URL.encode("foobar") == "Zm9vYmFy")
        #expect(Base64URL.encode([0xFB, 0xFF, 0xBF]) == "-_-_")
        // RFC 7515 Appendix C example.
        #expect(Base64URL.encode([3, 236, 255, 224, 193]) == "A-z_4ME")
    }

    @Test("Decodes what it encodes, for every length up to 70 and every byte value")
    func roundTrips() {
        for length in 0...70 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + length) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
        let all = (0...255).map { UInt8($0) }
        #expect(Base64URL.decode(Base64URL.encode(all)) == all)
    }

    @Test("Rejects padding, the standard alphabet, whitespace and other bytes", arguments: [
        "Zg==", "Zg=", "Zm8=", "Zm9v====", "+w", "/w", "Zm 9v", " Zm9v", "Zm9v\n", "Zm9v\t", "Zm9\u{0}",
        "Zm9v.", "Zm9v*", "é", "Zm9vYmFy=", "=",
    ])
    func rejectsNonAlphabet(_ input: String) {
        #expect(Base64URL.decode(input) == nil)
    }

    @Test("Rejects a length of 1 modulo 4")
    func rejectsImpossibleLength() {
        #expect(Base64URL.decode("Z") == nil)
        #expect(Base64URL.decode("Zm9vY") == nil)
    }

    @Test("Rejects non-zero unused trailing bits, so each value has one encoding (RFC 4648 §3.5)")
    func rejectsNonCanonicalTrailingBits() {
        #expect(Base64URL.decode("Zg") == [0x66])
        #expect(Base64URL.decode("Zh") == nil)
        #expect(Base64URL.decode("Zv") == nil)
        #expect(Base64URL.decode("Zm8") == [0x66, 0x6F])
        #expect(Base64URL.decode("Zm9") == nil)
        #expect(Base64URL.decode("Zm-") == nil)
        #expect(Base64URL.decode("AB") == nil)
        #expect(Base64URL.decode("AA") == [0])
    }

    @Test("Decodes the empty string to no bytes")
    func empty() {
        #expect(Base64URL.decode("") == [])
    }
}
