import JOSE
import Testing
@testable import OAuth

@Suite struct AccessTokenTests {
    let claims = AccessTokenClaims(issuer: "https://issuer.example", subject: "billing", audience: ["https://api.example.com"],
                                   clientID: "billing", scope: Scope(["invoices:read", "invoices:write"]),
                                   issuedAt: 1_800_000_000, expiresAt: 1_800_000_600, jwtID: "abc\"def")

    @Test("Claims survive JSON, with a single audience as a string")
    func jsonRoundTrip() throws {
        let text = claims.json()
        #expect(text.contains("\"aud\":\"https://api.example.com\""))
        #expect(AccessTokenClaims.parse(json: Array(text.utf8)) == claims)
        var many = claims
        many.audience = ["a", "b"]
        #expect(AccessTokenClaims.parse(json: Array(many.json().utf8)) == many)
    }

    @Test("An opaque token opens under its key and carries the prefix and key id")
    func opaqueRoundTrip() throws {
        let key = try OpaqueTokenKey(id: "k1", bytes: SecureRandom.bytes(32))
        let token = try OpaqueAccessToken.seal(claims, key: key)
        #expect(token.hasPrefix("tsa_k1."))
        #expect(!token.contains("billing"))
        #expect(OpaqueAccessToken.open(token, keys: ["k1": key]) == claims)
    }

    @Test("Tampered, foreign and garbage opaque tokens do not open")
    func opaqueRejections() throws {
        let key = try OpaqueTokenKey(id: "k1", bytes: SecureRandom.bytes(32))
        let other = try OpaqueTokenKey(id: "k1", bytes: SecureRandom.bytes(32))
        let token = try OpaqueAccessToken.seal(claims, key: key)
        var bytes = Array(token.utf8)
        bytes[bytes.count - 5] = bytes[bytes.count - 5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let samples = [
            String(decoding: bytes, as: UTF8.self), String(token.dropLast(4)), token.replacingOccurrences(of: "tsa_k1", with: "tsa_k2"),
            "", "tsa_", "tsa_k1.", "tsa_k1", "garbage", String(repeating: "a", count: 10_000), "tsa_k1.!!!!",
        ]
        for sample in samples {
            #expect(OpaqueAccessToken.open(sample, keys: ["k1": key]) == nil)
        }
        #expect(OpaqueAccessToken.open(token, keys: ["k1": other]) == nil)
        #expect(OpaqueAccessToken.open(token.replacingOccurrences(of: "tsa_k1", with: "tsa_k2"), keys: ["k1": key, "k2": key]) == nil)
    }

    @Test("JWT access tokens carry typ at+jwt and verify (RFC 9068 §2.1)")
    func jwtAccessToken() throws {
        let key = try SigningKey.generate(.es256)
        let token = try JWTAccessToken.sign(claims, key: key)
        let verified = try JWS.verify(token, keys: [key.verificationKey])
        #expect(verified.header.typ == "at+jwt")
        #expect(AccessTokenClaims.parse(json: verified.payload) == claims)
    }
}
