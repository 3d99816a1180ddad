import Foundation
import Synchronization
import Testing
@testable import JOSE

@Suite struct SigningKeyTests {
    @Test("RFC 7515 A.2: RS256 with the A.2 key reproduces the exact (deterministic) signature")
    func a2DeterministicSignature() throws {
        let key = try SigningKey(pem: RFCVectors.a2PrivateKeyPEM, algorithm: .rs256)
        #expect(key.publicJWK.n == RFCVectors.a2N)
        #expect(key.publicJWK.e == RFCVectors.a2E)
        let parts = RFCVectors.a2JWS.split(separator: ".")
        let signingInput = Array("\(parts[0]).\(parts[1])".utf8)
        #expect(Base64URL.encode(try key.sign(signingInput)) == String(parts[2]))
    }

    @Test("Sign then verify, for RS256 (2048 and 3072 bits) and ES256")
    func roundTrips() throws {
        let keys = [try SigningKey.generate(.rs256), try SigningKey.generate(.rs256, rsaBits: 3072), try SigningKey.generate(.es256)]
        for key in keys {
            let message = Array("the message".utf8)
            let signature = try key.sign(message)
            #expect(key.verificationKey.verify(signature: signature, message: message))
            #expect(!key.verificationKey.verify(signature: signature, message: Array("the messagE".utf8)))
        }
        #expect(keys[0].key.bits == 2048)
        #expect(keys[1].key.bits == 3072)
        #expect(try keys[1].sign([1]).count == 384)
    }

    @Test("ES256 signatures are 64-byte R || S, never DER (RFC 7518 §3.4)")
    func es256SignatureForm() throws {
        let key = try SigningKey.generate(.es256)
        for index in 0..<50 {
            let signature = try key.sign([UInt8(index)])
            #expect(signature.count == 64)
            let der = try #require(ECDSASignature.der(fromRaw: signature))
            #expect(!key.verificationKey.verify(signature: der, message: [UInt8(index)]))
            #expect(key.verificationKey.verify(signature: signature, message: [UInt8(index)]))
        }
    }

    @Test("RSA sizes other than 2048 and 3072 are refused for signing keys")
    func rsaSizes() throws {
        #expect(throws: KeyError.unsupportedKeySize(1024)) { try SigningKey.generate(.rs256, rsaBits: 1024) }
        #expect(throws: KeyError.unsupportedKeySize(4096)) { try SigningKey.generate(.rs256, rsaBits: 4096) }
        #expect(throws: KeyError.unsupportedKeySize(2047)) { try SigningKey.generate(.rs256, rsaBits: 2047) }
    }

    @Test("PKCS#8 DER and PEM round trips keep the key (same kid, signatures verify)")
    func pkcs8RoundTrip() throws {
        for algorithm in JWSAlgorithm.allCases {
            let key = try SigningKey.generate(algorithm)
            let der = try key.pkcs8DER()
            let reloaded = try SigningKey(pkcs8DER: der, algorithm: algorithm)
            #expect(reloaded.kid == key.kid)
            #expect(try reloaded.pkcs8DER() == der)
            let fromPEM = try SigningKey(pem: try key.pkcs8PEM(), algorithm: algorithm)
            #expect(fromPEM.kid == key.kid)
            #expect(key.verificationKey.verify(signature: try reloaded.sign([7]), message: [7]))
        }
    }

    @Test("A key whose type does not match the algorithm is refused")
    func typeMismatch() throws {
        let ec = try SigningKey.generate(.es256).pkcs8DER()
        let rsa = try SigningKey.generate(.rs256).pkcs8DER()
        #expect(throws: KeyError.keyTypeMismatch) { try SigningKey(pkcs8DER: ec, algorithm: .rs256) }
        #expect(throws: KeyError.keyTypeMismatch) { try SigningKey(pkcs8DER: rsa, algorithm: .es256) }
    }

    @Test("Malformed PKCS#8 and PEM are refused without crashing")
    func malformedKeys() throws {
        let der = try SigningKey.generate(.es256).pkcs8DER()
        #expect(throws: KeyError.self) { try SigningKey(pkcs8DER: [], algorithm: .es256) }
        #expect(throws: KeyError.self) { try SigningKey(pkcs8DER: der + [0], algorithm: .es256) }
        for length in stride(from: 0, to: der.count, by: 7) {
            #expect(throws: KeyError.self) { try SigningKey(pkcs8DER: Array(der.prefix(length)), algorithm: .es256) }
        }
        var corrupted = der
        corrupted[corrupted.count - 40] ^= 0xFF
        #expect(throws: KeyError.self) { try SigningKey(pkcs8DER: corrupted, algorithm: .es256) }
        #expect(throws: KeyError.self) { try SigningKey(pem: "", algorithm: .es256) }
        #expect(throws: KeyError.self) { try SigningKey(pem: "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n", algorithm: .es256) }
        let pem = RFCVectors.a2PrivateKeyPEM
        #expect(throws: KeyError.self) { try SigningKey(pem: pem.replacingOccurrences(of: "PRIVATE KEY", with: "RSA PRIVATE KEY"), algorithm: .rs256) }
        #expect(throws: KeyError.self) { try SigningKey(pem: pem + pem, algorithm: .rs256) }
    }

    @Test("One key signs and verifies JWS on more threads at once than its pools keep contexts")
    func concurrentThreads() async throws {
        for algorithm in JWSAlgorithm.allCases {
            let key = try SigningKey.generate(algorithm)
            let threads = PKeyContextPool.maximumIdle + 8
            let rounds = algorithm == .rs256 ? 4 : 25
            let failures = Mutex(0)
            let group = DispatchGroup()
            for thread in 0..<threads {
                group.enter()
                Thread.detachNewThread {
                    defer { group.leave() }
                    for round in 0..<rounds {
                        let payload = Array(#"{"thread":\#(thread),"round":\#(round)}"#.utf8)
                        guard let compact = try? JWS.sign(payload: payload, key: key, type: "at+jwt"),
                              let verified = try? JWS.verify(compact, keys: [key.verificationKey]), verified.payload == payload
                        else {
                            failures.withLock { $0 += 1 }
                            continue
                        }
                        // Another payload under the same signature is refused (and its context is not kept).
                        let parts = compact.split(separator: ".")
                        if (try? JWS.verify(parts[0] + ".e30." + parts[2], keys: [key.verificationKey])) != nil {
                            failures.withLock { $0 += 1 }
                        }
                    }
                }
            }
            await withCheckedContinuation { continuation in group.notify(queue: .global()) { continuation.resume() } }
            #expect(failures.withLock { $0 } == 0)
            #expect((1...PKeyContextPool.maximumIdle).contains(key.key.signContexts?.idleCount ?? 0))
            // Each refused signature frees the context it used, so verification may end with none kept.
            #expect(key.key.verifyContexts.idleCount <= PKeyContextPool.maximumIdle)
        }
    }

    @Test("One key signs and verifies concurrently from many tasks")
    func concurrentUse() async throws {
        for algorithm in JWSAlgorithm.allCases {
            let key = try SigningKey.generate(algorithm)
            let results = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<64 {
                    group.addTask {
                        let message = Array("message \(index)".utf8)
                        let signature = try key.sign(message)
                        return key.verificationKey.verify(signature: signature, message: message)
                            && !key.verificationKey.verify(signature: signature, message: message + [0])
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results.count == 64 && results.allSatisfy { $0 })
        }
    }
}
