import Testing
@testable import PasswordHashing

@Suite struct Argon2idTests {
    // Cheap parameters keep the suite fast; the algorithm is the same.
    let fast = Argon2Parameters(memoryKiB: 64, iterations: 1, parallelism: 1)

    @Test("Argon2id matches the RFC 9106 §5.3 test vector")
    func rfc9106Vector() throws {
        let tag = try Argon2id.rawHash(
            password: [UInt8](repeating: 0x01, count: 32),
            salt: [UInt8](repeating: 0x02, count: 16),
            secret: [UInt8](repeating: 0x03, count: 8),
            associatedData: [UInt8](repeating: 0x04, count: 12),
            iterations: 3, memoryKiB: 32, parallelism: 4, length: 32)
        let hex = tag.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        #expect(hex == "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659")
    }

    @Test("A hash verifies its own password and no other")
    func roundTrip() throws {
        let encoded = try Argon2id.hash(password: Array("correct horse".utf8), parameters: fast)
        #expect(encoded.hasPrefix("$argon2id$v=19$m=64,t=1,p=1$"))
        #expect(try Argon2id.verify(password: Array("correct horse".utf8), encoded: encoded))
        #expect(try !Argon2id.verify(password: Array("correct horsE".utf8), encoded: encoded))
        #expect(try !Argon2id.verify(password: [], encoded: encoded))
    }

    @Test("Two hashes of one password differ (random salt)")
    func saltIsRandom() throws {
        let a = try Argon2id.hash(password: Array("pw".utf8), parameters: fast)
        let b = try Argon2id.hash(password: Array("pw".utf8), parameters: fast)
        #expect(a != b)
    }

    @Test("Parameters are read back from the PHC string")
    func parametersRoundTrip() throws {
        let encoded = try Argon2id.hash(password: Array("pw".utf8), parameters: fast)
        let parsed = try #require(Argon2id.parameters(of: encoded))
        #expect(parsed.memoryKiB == 64 && parsed.iterations == 1 && parsed.parallelism == 1)
    }

    @Test("Malformed or foreign hash strings are refused, not verified", arguments: [
        "", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=x,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=64,t=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
    ])
    func malformed(encoded: String) {
        #expect(throws: Argon2Error.self) { try Argon2id.verify(password: Array("pw".utf8), encoded: encoded) }
    }

    @Test("A stored hash above the cost ceiling is refused before any work")
    func costCeiling() {
        let huge = "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
        #expect(throws: Argon2Error.self) { try Argon2id.verify(password: Array("pw".utf8), encoded: huge) }
    }

    @Test("Out-of-range parameters are refused when hashing")
    func badParameters() {
        #expect(throws: Argon2Error.self) { try Argon2id.hash(password: [1], parameters: Argon2Parameters(memoryKiB: 4, iterations: 1, parallelism: 1)) }
        #expect(throws: Argon2Error.self) { try Argon2id.hash(password: [1], parameters: Argon2Parameters(memoryKiB: 64, iterations: 0, parallelism: 1)) }
    }
}
