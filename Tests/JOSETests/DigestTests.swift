import Testing
@testable import JOSE

@Suite struct SHA256Tests {
    @Test("FIPS 180-2 Appendix B.1: SHA-256(\"abc\")")
    func abc() {
        #expect(hexString(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("FIPS 180-2 Appendix B.2: the two-block message")
    func twoBlocks() {
        let message = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(hexString(SHA256.hash(message)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test("SHA-256 of the empty string")
    func empty() {
        #expect(hexString(SHA256.hash([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}

@Suite struct HMACSHA256Tests {
    @Test("RFC 4231 §4.2 test case 1")
    func case1() {
        let tag = HMACSHA256.authenticate(Array("Hi There".utf8), key: [UInt8](repeating: 0x0B, count: 20))
        #expect(hexString(tag) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    }

    @Test("RFC 4231 §4.3 test case 2 (key shorter than the block)")
    func case2() {
        let tag = HMACSHA256.authenticate(Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8))
        #expect(hexString(tag) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test("RFC 4231 §4.7 test case 6 (key longer than the block)")
    func case6() {
        let tag = HMACSHA256.authenticate(
            Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
            key: [UInt8](repeating: 0xAA, count: 131))
        #expect(hexString(tag) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test("An empty key is accepted")
    func emptyKey() {
        #expect(HMACSHA256.authenticate([1, 2, 3], key: []).count == 32)
    }
}

@Suite struct SecureRandomTests {
    @Test("Returns the requested number of bytes, and different bytes each time")
    func lengthsAndDistinctness() {
        #expect(SecureRandom.bytes(0) == [])
        #expect(SecureRandom.bytes(1).count == 1)
        #expect(SecureRandom.bytes(1000).count == 1000)
        #expect(SecureRandom.bytes(32) != SecureRandom.bytes(32))
    }
}

@Suite struct ConstantTimeTests {
    @Test("Equal arrays compare equal; any difference, including length, does not")
    func compares() {
        #expect(constantTimeEquals([], []))
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([0, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(!constantTimeEquals([], [0]))
    }
}
