import Testing
@testable import JOSE

@Suite struct SecureRandomTests {
    @Test("Returns the requested number of bytes, and different bytes each time")
    func lengthsAndDistinctness() {
        #expect(SecureRandom.bytes(0) == [])
        #expect(SecureRandom.bytes(1).count == 1)
        #expect(SecureRandom.bytes(1000).count == 1000)
        #expect(SecureRandom.bytes(32) != SecureRandom.bytes(32))
    }
}
