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

    @Test("Retry-After is whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3)")
    func retryAfterSeconds() {
        #expect(AuthenticationThrottle.retryAfterSeconds(.milliseconds(1)) == 1)
        #expect(AuthenticationThrottle.retryAfterSeconds(.milliseconds(1_001)) == 2)
        #expect(AuthenticationThrottle.retryAfterSeconds(.seconds(60)) == 60)
        #expect(AuthenticationThrottle.retryAfterSeconds(.zero) == 1)
    }
}
