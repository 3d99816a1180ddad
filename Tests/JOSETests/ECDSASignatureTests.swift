import Testing
@testable import JOSE

@Suite struct ECDSASignatureTests {
    @Test("R and S are left-padded to 32 bytes when converting DER to R || S")
    func leftPadding() throws {
        // r = 0x01 (one byte), s = 0x7f… (32 bytes, no sign padding)
        let s = [UInt8](repeating: 0x7F, count: 32)
        let der: [UInt8] = [0x30, 3 + 34, 0x02, 0x01, 0x01, 0x02, 0x20] + s
        let raw = try #require(ECDSASignature.raw(fromDER: der))
        #expect(raw == [UInt8](repeating: 0, count: 31) + [1] + s)
        #expect(ECDSASignature.der(fromRaw: raw) == der)
    }

    @Test("High-bit values get a DER sign byte and convert back")
    func signByte() throws {
        let raw = [UInt8](repeating: 0x80, count: 32) + [UInt8](repeating: 0x90, count: 32)
        let der = try #require(ECDSASignature.der(fromRaw: raw))
        #expect(der.count == 2 + 2 * 35)
        #expect(der[3] == 33 && der[4] == 0)
        #expect(ECDSASignature.raw(fromDER: der) == raw)
    }

    @Test("Zero and out-of-range R or S are refused (FIPS 186-4 §6.4.2)")
    func ranges() {
        let one = [UInt8](repeating: 0, count: 31) + [1]
        let zero = [UInt8](repeating: 0, count: 32)
        var nMinus1 = ECDSASignature.p256Order
        nMinus1[31] -= 1
        #expect(ECDSASignature.der(fromRaw: one + one) != nil)
        #expect(ECDSASignature.der(fromRaw: nMinus1 + nMinus1) != nil)
        #expect(ECDSASignature.der(fromRaw: zero + one) == nil)
        #expect(ECDSASignature.der(fromRaw: one + zero) == nil)
        #expect(ECDSASignature.der(fromRaw: ECDSASignature.p256Order + one) == nil)
        #expect(ECDSASignature.der(fromRaw: one + ECDSASignature.p256Order) == nil)
        #expect(ECDSASignature.der(fromRaw: [UInt8](repeating: 0xFF, count: 64)) == nil)
        #expect(ECDSASignature.der(fromRaw: one + one + [0]) == nil)
    }

    @Test("Non-minimal, negative, oversized and trailing-data DER is refused")
    func strictDER() {
        let good: [UInt8] = [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02]
        #expect(ECDSASignature.raw(fromDER: good) != nil)
        #expect(ECDSASignature.raw(fromDER: [0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x02]) == nil)
        #expect(ECDSASignature.raw(fromDER: [0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x02]) == nil)
        #expect(ECDSASignature.raw(fromDER: good + [0]) == nil)
        #expect(ECDSASignature.raw(fromDER: [0x30, 0x23, 0x02, 0x21] + [UInt8](repeating: 0x01, count: 33) ) == nil)
        #expect(ECDSASignature.raw(fromDER: []) == nil)
    }
}
