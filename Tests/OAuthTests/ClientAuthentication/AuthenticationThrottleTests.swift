import Testing
@testable import OAuth

@Suite struct AuthenticationThrottleTests {
    let clock = TestClock()

    func makeThrottle(capacity: Int = 10_000) -> AuthenticationThrottle {
        let clock = self.clock
        return AuthenticationThrottle(capacity: capacity, clock: { clock.instant })
    }

    @Test("Five failures are free; the sixth starts a 1 s backoff for the client and the address")
    func freeFailures() {
        let throttle = makeThrottle()
        for _ in 1...5 { throttle.recordFailure(clientID: "c", sourceAddress: "198.51.100.1") }
        #expect(throttle.retryAfter(clientID: "c", sourceAddress: "198.51.100.1") == nil)
        throttle.recordFailure(clientID: "c", sourceAddress: "198.51.100.1")
        #expect(throttle.retryAfter(clientID: "c", sourceAddress: "192.0.2.1") == .seconds(1))
        #expect(throttle.retryAfter(clientID: "other", sourceAddress: "198.51.100.1") == .seconds(1))
        #expect(throttle.retryAfter(clientID: "other", sourceAddress: "192.0.2.1") == nil)
        clock.advance(by: .milliseconds(400))
        #expect(throttle.retryAfter(clientID: "c", sourceAddress: "192.0.2.1") == .milliseconds(600))
    }

    @Test("A success resets the client's count but not the address's")
    func successResetsClient() {
        let throttle = makeThrottle()
        for _ in 1...6 { throttle.recordFailure(clientID: "c", sourceAddress: "198.51.100.1") }
        throttle.recordSuccess(clientID: "c")
        #expect(throttle.retryAfter(clientID: "c", sourceAddress: "192.0.2.1") == nil)
        #expect(throttle.retryAfter(clientID: "x", sourceAddress: "198.51.100.1") == .seconds(1))
    }

    @Test("Failures are forgotten after 15 quiet minutes")
    func forgetting() {
        let throttle = makeThrottle()
        for _ in 1...5 { throttle.recordFailure(clientID: "c", sourceAddress: "a") }
        clock.advance(by: .seconds(900))
        throttle.recordFailure(clientID: "c", sourceAddress: "a")
        #expect(throttle.retryAfter(clientID: "c", sourceAddress: "a") == nil)
    }

    @Test("Memory is bounded: at most capacity clients and addresses are tracked")
    func capacity() {
        let throttle = makeThrottle(capacity: 3)
        for index in 0..<10 {
            throttle.recordFailure(clientID: "client\(index)", sourceAddress: "address\(index)")
            clock.advance(by: .milliseconds(1))
        }
        #expect(throttle.trackedCount.clients == 3)
        #expect(throttle.trackedCount.addresses == 3)
        let long = String(repeating: "x", count: 10_000)
        for _ in 1...6 { throttle.recordFailure(clientID: "c", sourceAddress: long) }
        #expect(throttle.retryAfter(clientID: "d", sourceAddress: long) == .seconds(1))
    }

    func makeLoginThrottle(addressFreeFailures: Int? = 20) -> AuthenticationThrottle {
        let clock = self.clock
        return AuthenticationThrottle(freeFailures: 5, addressFreeFailures: addressFreeFailures, clock: { clock.instant })
    }

    @Test("An address is allowed more failures than an account: 20 spread over accounts pass, the 21st starts its backoff")
    func addressFreeFailures() {
        let throttle = makeLoginThrottle()
        #expect(throttle.addressFreeFailures == 20)
        // Four failures for each of five accounts, all from one address (a shared NAT): under both limits.
        for index in 0..<20 { throttle.recordFailure(clientID: "user\(index % 5)", sourceAddress: "203.0.113.7") }
        #expect(throttle.retryAfter(clientID: "someone", sourceAddress: "203.0.113.7") == nil)
        for index in 0..<5 { #expect(throttle.retryAfter(clientID: "user\(index)", sourceAddress: "192.0.2.1") == nil) }
        throttle.recordFailure(clientID: "user5", sourceAddress: "203.0.113.7")
        #expect(throttle.retryAfter(clientID: "someone", sourceAddress: "203.0.113.7") == .seconds(1))
        #expect(throttle.retryAfter(clientID: "user5", sourceAddress: "192.0.2.1") == nil, "the account has one failure")
        #expect(throttle.retryAfter(clientID: "someone", sourceAddress: "192.0.2.1") == nil, "other addresses are not affected")
    }

    @Test("An account backs off after its own five free failures, though each address stays under its limit")
    func accountLimitBelowAddressLimit() {
        let throttle = makeLoginThrottle()
        for index in 1...5 { throttle.recordFailure(clientID: "alice", sourceAddress: "198.51.100.\(index)") }
        #expect(throttle.retryAfter(clientID: "alice", sourceAddress: "192.0.2.1") == nil)
        throttle.recordFailure(clientID: "alice", sourceAddress: "198.51.100.6")
        #expect(throttle.retryAfter(clientID: "alice", sourceAddress: "192.0.2.1") == .seconds(1))
        for index in 1...6 { #expect(throttle.retryAfter(clientID: "bob", sourceAddress: "198.51.100.\(index)") == nil) }
    }

    @Test("An address's backoff doubles from its own free count, ends on time, and is forgotten after a quiet period")
    func addressBackoffDoubling() {
        let throttle = makeLoginThrottle()
        for index in 0..<21 { throttle.recordFailure(clientID: "user\(index)", sourceAddress: "203.0.113.7") }
        #expect(throttle.retryAfter(clientID: "x", sourceAddress: "203.0.113.7") == .seconds(1))
        throttle.recordFailure(clientID: "user21", sourceAddress: "203.0.113.7")
        #expect(throttle.retryAfter(clientID: "x", sourceAddress: "203.0.113.7") == .seconds(2))
        throttle.recordFailure(clientID: "user22", sourceAddress: "203.0.113.7")
        #expect(throttle.retryAfter(clientID: "x", sourceAddress: "203.0.113.7") == .seconds(4))
        clock.advance(by: .milliseconds(3_500))
        #expect(throttle.retryAfter(clientID: "x", sourceAddress: "203.0.113.7") == .milliseconds(500))
        clock.advance(by: .milliseconds(500))
        #expect(throttle.retryAfter(clientID: "x", sourceAddress: "203.0.113.7") == nil)
        // Within the quiet period, the next failure continues the count: 8 s.
        throttle.recordFailure(clientID: "user23", sourceAddress: "203.0.113.7")
        #expect(throttle.retryAfter(clientID: "x", sourceAddress: "203.0.113.7") == .seconds(8))
        // After 15 quiet minutes the count starts over: 20 free failures again.
        clock.advance(by: .seconds(900))
        for index in 0..<20 { throttle.recordFailure(clientID: "later\(index)", sourceAddress: "203.0.113.7") }
        #expect(throttle.retryAfter(clientID: "x", sourceAddress: "203.0.113.7") == nil)
    }

    @Test("Without addressFreeFailures an address has the accounts' free count; a negative one counts as zero")
    func addressFreeFailuresDefaults() {
        #expect(makeLoginThrottle(addressFreeFailures: nil).addressFreeFailures == 5)
        let strict = makeLoginThrottle(addressFreeFailures: -3)
        #expect(strict.addressFreeFailures == 0)
        strict.recordFailure(clientID: "alice", sourceAddress: "203.0.113.7")
        #expect(strict.retryAfter(clientID: "x", sourceAddress: "203.0.113.7") == .seconds(1))
        #expect(strict.retryAfter(clientID: "alice", sourceAddress: "192.0.2.1") == nil)
    }

    @Test("A successful login resets the account, never the address's larger count")
    func successKeepsAddressCount() {
        let throttle = makeLoginThrottle()
        for _ in 0..<21 { throttle.recordFailure(clientID: "alice", sourceAddress: "203.0.113.7") }
        throttle.recordSuccess(clientID: "alice")
        #expect(throttle.retryAfter(clientID: "alice", sourceAddress: "192.0.2.1") == nil)
        #expect(throttle.retryAfter(clientID: "bob", sourceAddress: "203.0.113.7") == .seconds(1))
    }

    @Test("Retry-After is whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3)")
    func retryAfterSeconds() {
        #expect(AuthenticationThrottle.retryAfterSeconds(.milliseconds(1)) == 1)
        #expect(AuthenticationThrottle.retryAfterSeconds(.milliseconds(1_001)) == 2)
        #expect(AuthenticationThrottle.retryAfterSeconds(.seconds(60)) == 60)
        #expect(AuthenticationThrottle.retryAfterSeconds(.zero) == 1)
    }
}
