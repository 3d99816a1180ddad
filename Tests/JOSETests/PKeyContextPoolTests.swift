import Testing
@testable import JOSE

@Suite struct PKeyContextPoolTests {
    /// Holds `depth + 1` contexts of `pool` at once (each nested call takes its own), then gives them back.
    func holdNested(_ pool: PKeyContextPool, depth: Int) -> Bool {
        pool.withContext { _ in
            (depth == 0 ? true : holdNested(pool, depth: depth - 1), true)
        } ?? false
    }

    @Test("Contexts are kept for reuse after a successful operation, up to the bound, and the rest freed")
    func keepsUpToTheBound() throws {
        let key = try SigningKey.generate(.es256)
        let pool = try #require(key.key.signContexts)
        let before = pool.idleCount
        #expect(before <= 1)
        #expect(holdNested(pool, depth: PKeyContextPool.maximumIdle + 4))
        #expect(pool.idleCount == PKeyContextPool.maximumIdle)
        // Taking one and giving it back leaves the count where it was.
        #expect(pool.withContext { _ in (1, true) } == 1)
        #expect(pool.idleCount == PKeyContextPool.maximumIdle)
    }

    @Test("A context whose operation failed is freed, not kept")
    func failedOperationIsNotKept() throws {
        let key = try SigningKey.generate(.es256)
        let pool = key.key.verifyContexts
        #expect(pool.withContext { _ in (0, true) } == 0)
        let kept = pool.idleCount
        #expect(kept == 1)
        #expect(pool.withContext { _ in (0, false) } == 0)
        #expect(pool.idleCount == kept - 1)
        // A bad signature is such a failure; the next good one still verifies.
        let message = Array("m".utf8)
        let signature = try key.sign(message)
        #expect(!key.verificationKey.verify(signature: signature, message: message + [1]))
        #expect(key.verificationKey.verify(signature: signature, message: message))
        #expect(pool.idleCount == 1)
    }

    @Test("A reused context signs exactly like a fresh one (RFC 7515 A.2's deterministic RS256 signature)")
    func reusedContextSignsTheSame() throws {
        let key = try SigningKey(pem: RFCVectors.a2PrivateKeyPEM, algorithm: .rs256)
        let parts = RFCVectors.a2JWS.split(separator: ".")
        let signingInput = Array("\(parts[0]).\(parts[1])".utf8)
        for _ in 0..<3 {
            #expect(Base64URL.encode(try key.sign(signingInput)) == String(parts[2]))
        }
        #expect(key.key.signContexts?.idleCount == 1)
    }
}
