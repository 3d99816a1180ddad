import Foundation
import JOSE
import Testing
@testable import OAuth

@Suite struct OpaqueTokenKeyringTests {
    let kek = (try? KeyEncryptionKey(bytes: Array(repeating: 7, count: 32)))
    let now: Int64 = 1_800_000_000

    func claims(at issuedAt: Int64, lifetime: Int64 = 600) -> AccessTokenClaims {
        AccessTokenClaims(issuer: "https://issuer.example", subject: "svc", audience: ["https://api.example"], clientID: "svc",
                          scope: Scope(["a", "b"]), issuedAt: issuedAt, expiresAt: issuedAt + lifetime, jwtID: "j1")
    }

    @Test("A sealed token opens to the same claims on another instance with the same key-encryption key")
    func roundTrip() throws {
        let kek = try #require(kek)
        let token = try OpaqueTokenKeyring(kek: kek).seal(claims(at: now))
        #expect(token.hasPrefix("tsa_k"))
        #expect(OpaqueTokenKeyring(kek: kek).open(token, at: now + 10) == claims(at: now))
    }

    @Test("Another key-encryption key cannot open the token")
    func otherKEK() throws {
        let token = try OpaqueTokenKeyring(kek: try #require(kek)).seal(claims(at: now))
        let other = try KeyEncryptionKey(bytes: Array(repeating: 8, count: 32))
        #expect(OpaqueTokenKeyring(kek: other).open(token, at: now) == nil)
    }

    @Test("Keys rotate every period; the previous period's key still opens its tokens")
    func rotation() throws {
        let ring = OpaqueTokenKeyring(kek: try #require(kek))
        let first = try #require(ring.sealingKey(at: now))
        let next = try #require(ring.sealingKey(at: now + OpaqueTokenKeyring.period))
        #expect(first.id != next.id)
        #expect(first.bytes != next.bytes)
        let token = try ring.seal(claims(at: now))
        #expect(ring.open(token, at: now + OpaqueTokenKeyring.period) != nil)
    }

    @Test("A key too old to have sealed a still-valid token is refused without decrypting")
    func expiredPeriod() throws {
        let ring = OpaqueTokenKeyring(kek: try #require(kek), maxTokenLifetime: 3_600)
        let token = try ring.seal(claims(at: now))
        #expect(ring.open(token, at: now + 3 * OpaqueTokenKeyring.period) == nil)
        #expect(ring.openingKey(id: "k\(now / OpaqueTokenKeyring.period + 5)", at: now) == nil, "a future period beyond the clock skew")
    }

    @Test("Key ids other than k<period> are refused", arguments: ["", "k", "k01", "k-1x", "x123", "k+1", "k99999999999999"])
    func badIDs(id: String) throws {
        #expect(OpaqueTokenKeyring(kek: try #require(kek)).openingKey(id: id, at: now) == nil)
    }

    @Test("A tampered, truncated or re-prefixed token does not open")
    func tampered() throws {
        let ring = OpaqueTokenKeyring(kek: try #require(kek))
        let token = try ring.seal(claims(at: now))
        var bytes = Array(token.utf8)
        let index = bytes.count - 5
        bytes[index] = bytes[index] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(ring.open(String(decoding: bytes, as: UTF8.self), at: now) == nil)
        #expect(ring.open(String(token.dropLast(3)), at: now) == nil)
        #expect(ring.open("x" + token.dropFirst(), at: now) == nil)
    }
}
