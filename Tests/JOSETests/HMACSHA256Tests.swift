import Testing
@testable import JOSE

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
