import Testing
@testable import JOSE

@Suite struct AESGCMTests {
    let key = SecureRandom.bytes(32)

    @Test("Seal then open returns the plaintext, for empty and non-empty messages and AAD")
    func roundTrip() throws {
        for plaintext in [[], [0x41], Array("a secret refresh token".utf8), SecureRandom.bytes(1000)] {
            for aad in [[], Array("client_id=abc".utf8)] {
                let sealed = try AESGCM.seal(plaintext, key: key, authenticating: aad)
                #expect(sealed.count == AESGCM.nonceLength + plaintext.count + AESGCM.tagLength)
                #expect(try AESGCM.open(sealed, key: key, authenticating: aad) == plaintext)
            }
        }
    }

    @Test("Each seal uses a fresh random nonce")
    func freshNonce() throws {
        let a = try AESGCM.seal([1, 2, 3], key: key)
        let b = try AESGCM.seal([1, 2, 3], key: key)
        #expect(a.prefix(12) != b.prefix(12))
        #expect(a != b)
    }

    @Test("Any flipped bit in nonce, ciphertext or tag is detected")
    func tamperDetection() throws {
        let sealed = try AESGCM.seal(Array("attack at dawn".utf8), key: key, authenticating: [9])
        for index in sealed.indices {
            var tampered = sealed
            tampered[index] ^= 0x01
            #expect(throws: AESGCMError.authenticationFailed) { try AESGCM.open(tampered, key: key, authenticating: [9]) }
        }
    }

    @Test("Different or missing associated data is detected")
    func wrongAAD() throws {
        let sealed = try AESGCM.seal([1, 2, 3], key: key, authenticating: Array("user-1".utf8))
        #expect(throws: AESGCMError.authenticationFailed) { try AESGCM.open(sealed, key: key, authenticating: Array("user-2".utf8)) }
        #expect(throws: AESGCMError.authenticationFailed) { try AESGCM.open(sealed, key: key) }
    }

    @Test("A different key is detected")
    func wrongKey() throws {
        let sealed = try AESGCM.seal([1, 2, 3], key: key)
        #expect(throws: AESGCMError.authenticationFailed) { try AESGCM.open(sealed, key: SecureRandom.bytes(32)) }
    }

    @Test("Truncated boxes and wrong key lengths are refused")
    func sizes() throws {
        let sealed = try AESGCM.seal([1, 2, 3], key: key)
        for length in 0..<sealed.count {
            #expect(throws: AESGCMError.authenticationFailed) { try AESGCM.open(Array(sealed.prefix(length)), key: key) }
        }
        #expect(throws: AESGCMError.invalidKeyLength(16)) { try AESGCM.seal([1], key: [UInt8](repeating: 0, count: 16)) }
        #expect(throws: AESGCMError.invalidKeyLength(33)) { try AESGCM.open(sealed, key: [UInt8](repeating: 0, count: 33)) }
    }

    @Test("NIST GCM test case 14 (AES-256, zero key, zero nonce, one zero block) matches via open")
    func knownAnswer() throws {
        // McGrew & Viega, "The Galois/Counter Mode of Operation", test case 14.
        let sealed = [UInt8](repeating: 0, count: 12)
            + hex("cea7403d4d606b6e074ec5d3baf39d18")
            + hex("d0d1c8a799996bf0265b98b5d48ab919")
        #expect(try AESGCM.open(sealed, key: [UInt8](repeating: 0, count: 32)) == [UInt8](repeating: 0, count: 16))
    }
}
