import Testing
import TestSupport
@testable import OAuth

@Suite struct AuthenticationThrottleTests {
    let clock = TestClock()

    func makeThrottle(capacity: Int = 10_000) -> AuthenticationThrottle {
        let clock = self.clock
        return AuthenticationThrottle(capacity: capacity, clock: { clock.instant })
    }

    @Test("Five failures for a key from one source are free; the sixth starts a 1 s backoff for that key from that source only")
    func freeFailures() {
        let throttle = makeThrottle()
        for _ in 1...5 { throttle.recordFailure(key: "c", sourceAddress: "198.51.100.1") }
        #expect(throttle.retryAfter(key: "c", sourceAddress: "198.51.100.1") == nil)
        throttle.recordFailure(key: "c", sourceAddress: "198.51.100.1")
        #expect(throttle.retryAfter(key: "c", sourceAddress: "198.51.100.1") == .seconds(1))
        #expect(throttle.retryAfter(key: "c", sourceAddress: "192.0.2.1") == nil, "another source is never locked out")
        // Six failures also put the source itself past its free count.
        #expect(throttle.retryAfter(key: "other", sourceAddress: "198.51.100.1") == .seconds(1))
        #expect(throttle.retryAfter(key: "other", sourceAddress: "192.0.2.1") == nil)
        clock.advance(by: .milliseconds(400))
        #expect(throttle.retryAfter(key: "c", sourceAddress: "198.51.100.1") == .milliseconds(600))
    }

    @Test("Without a key-wide count, failures from a thousand sources never hold the key back anywhere")
    func noKeyWideCountByDefault() {
        let throttle = makeThrottle()
        for index in 0..<1_000 { throttle.recordFailure(key: "c", sourceAddress: "10.0.\(index / 250).\(index % 250)") }
        #expect(throttle.retryAfter(key: "c", sourceAddress: "192.0.2.1") == nil)
        #expect(throttle.trackedCount.keys == 0)
    }

    @Test("A success resets the key from that source, but not the source's count")
    func successResetsPair() {
        let throttle = makeThrottle()
        for _ in 1...6 { throttle.recordFailure(key: "c", sourceAddress: "198.51.100.1") }
        throttle.recordSuccess(key: "c", sourceAddress: "198.51.100.1")
        #expect(throttle.retryAfter(key: "x", sourceAddress: "198.51.100.1") == .seconds(1))
        clock.advance(by: .seconds(1))
        #expect(throttle.retryAfter(key: "c", sourceAddress: "198.51.100.1") == nil)
    }

    @Test("Failures are forgotten after 15 quiet minutes")
    func forgetting() {
        let throttle = makeThrottle()
        for _ in 1...5 { throttle.recordFailure(key: "c", sourceAddress: "a") }
        clock.advance(by: .seconds(900))
        throttle.recordFailure(key: "c", sourceAddress: "a")
        #expect(throttle.retryAfter(key: "c", sourceAddress: "a") == nil)
    }

    @Test("Memory is bounded: at most capacity entries of each kind are tracked; long addresses are cut")
    func capacity() {
        let throttle = makeThrottle(capacity: 3)
        for index in 0..<10 {
            throttle.recordFailure(key: "client\(index)", sourceAddress: "address\(index)")
            clock.advance(by: .milliseconds(1))
        }
        #expect(throttle.trackedCount.pairs == 3)
        #expect(throttle.trackedCount.addresses == 3)
        let long = String(repeating: "x", count: 10_000)
        for _ in 1...6 { throttle.recordFailure(key: "c", sourceAddress: long) }
        #expect(throttle.retryAfter(key: "d", sourceAddress: long + "y") == .seconds(1))
    }

    @Test("An IPv6 /64 is one source; an IPv4-mapped address is its IPv4 address")
    func sourcesByPrefix() {
        let throttle = makeThrottle()
        for index in 1...6 { throttle.recordFailure(key: "c", sourceAddress: "2001:db8:0:1::\(index)") }
        #expect(throttle.retryAfter(key: "c", sourceAddress: "2001:db8:0:1:abcd:ef01:2345:6789") == .seconds(1))
        #expect(throttle.retryAfter(key: "c", sourceAddress: "2001:db8:0:2::1") == nil)
        for _ in 1...6 { throttle.recordFailure(key: "c", sourceAddress: "::ffff:198.51.100.9") }
        #expect(throttle.retryAfter(key: "c", sourceAddress: "198.51.100.9") == .seconds(1))
    }

    func makeLoginThrottle(addressFreeFailures: Int? = 20, keyFreeFailures: Int? = 9) -> AuthenticationThrottle {
        let clock = self.clock
        return AuthenticationThrottle(freeFailures: 5, addressFreeFailures: addressFreeFailures, keyFreeFailures: keyFreeFailures,
                                      clock: { clock.instant })
    }

    @Test("A source is allowed more failures than an account: 20 spread over accounts pass, the 21st starts its backoff")
    func addressFreeFailures() {
        let throttle = makeLoginThrottle()
        #expect(throttle.addressFreeFailures == 20)
        // Four failures for each of five accounts, all from one address (a shared NAT): under both limits.
        for index in 0..<20 { throttle.recordFailure(key: "user\(index % 5)", sourceAddress: "203.0.113.7") }
        #expect(throttle.retryAfter(key: "someone", sourceAddress: "203.0.113.7") == nil)
        for index in 0..<5 { #expect(throttle.retryAfter(key: "user\(index)", sourceAddress: "192.0.2.1") == nil) }
        throttle.recordFailure(key: "user5", sourceAddress: "203.0.113.7")
        #expect(throttle.retryAfter(key: "someone", sourceAddress: "203.0.113.7") == .seconds(1))
        #expect(throttle.retryAfter(key: "user5", sourceAddress: "192.0.2.1") == nil, "the account has one failure")
        #expect(throttle.retryAfter(key: "someone", sourceAddress: "192.0.2.1") == nil, "other addresses are not affected")
    }

    @Test("An account's failures from many sources back it off only for attempts that ask for the key-wide count")
    func keyWideCount() {
        let throttle = makeLoginThrottle()
        for index in 1...9 { throttle.recordFailure(key: "alice", sourceAddress: "198.51.100.\(index)") }
        #expect(throttle.retryAfter(key: "alice", sourceAddress: "192.0.2.1") == nil)
        throttle.recordFailure(key: "alice", sourceAddress: "198.51.100.10")
        #expect(throttle.retryAfter(key: "alice", sourceAddress: "192.0.2.1") == .seconds(1), "an unknown browser backs off")
        #expect(throttle.retryAfter(key: "alice", sourceAddress: "192.0.2.1", keyWide: false) == nil, "a known browser does not")
        for index in 1...10 { #expect(throttle.retryAfter(key: "bob", sourceAddress: "198.51.100.\(index)") == nil) }
        throttle.recordSuccess(key: "alice", sourceAddress: "192.0.2.1")
        #expect(throttle.retryAfter(key: "alice", sourceAddress: "192.0.2.2") == nil, "a success resets the account's count")
    }

    @Test("A source's backoff doubles from its own free count, ends on time, and is forgotten after a quiet period")
    func addressBackoffDoubling() {
        let throttle = makeLoginThrottle()
        for index in 0..<21 { throttle.recordFailure(key: "user\(index)", sourceAddress: "203.0.113.7") }
        #expect(throttle.retryAfter(key: "x", sourceAddress: "203.0.113.7") == .seconds(1))
        throttle.recordFailure(key: "user21", sourceAddress: "203.0.113.7")
        #expect(throttle.retryAfter(key: "x", sourceAddress: "203.0.113.7") == .seconds(2))
        throttle.recordFailure(key: "user22", sourceAddress: "203.0.113.7")
        #expect(throttle.retryAfter(key: "x", sourceAddress: "203.0.113.7") == .seconds(4))
        clock.advance(by: .milliseconds(3_500))
        #expect(throttle.retryAfter(key: "x", sourceAddress: "203.0.113.7") == .milliseconds(500))
        clock.advance(by: .milliseconds(500))
        #expect(throttle.retryAfter(key: "x", sourceAddress: "203.0.113.7") == nil)
        // Within the quiet period, the next failure continues the count: 8 s.
        throttle.recordFailure(key: "user23", sourceAddress: "203.0.113.7")
        #expect(throttle.retryAfter(key: "x", sourceAddress: "203.0.113.7") == .seconds(8))
        // After 15 quiet minutes the count starts over: 20 free failures again.
        clock.advance(by: .seconds(900))
        for index in 0..<20 { throttle.recordFailure(key: "later\(index)", sourceAddress: "203.0.113.7") }
        #expect(throttle.retryAfter(key: "x", sourceAddress: "203.0.113.7") == nil)
    }

    @Test("Without addressFreeFailures a source has the keys' free count; a negative one counts as zero")
    func addressFreeFailuresDefaults() {
        #expect(makeLoginThrottle(addressFreeFailures: nil).addressFreeFailures == 5)
        let strict = makeLoginThrottle(addressFreeFailures: -3)
        #expect(strict.addressFreeFailures == 0)
        strict.recordFailure(key: "alice", sourceAddress: "203.0.113.7")
        #expect(strict.retryAfter(key: "x", sourceAddress: "203.0.113.7") == .seconds(1))
        #expect(strict.retryAfter(key: "alice", sourceAddress: "192.0.2.1") == nil)
    }

    @Test("Retry-After is whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3)")
    func retryAfterSeconds() {
        #expect(AuthenticationThrottle.retryAfterSeconds(.milliseconds(1)) == 1)
        #expect(AuthenticationThrottle.retryAfterSeconds(.milliseconds(1_001)) == 2)
        #expect(AuthenticationThrottle.retryAfterSeconds(.seconds(60)) == 60)
        #expect(AuthenticationThrottle.retryAfterSeconds(.zero) == 1)
    }
}

@Suite struct SourceAddressKeyTests {
    @Test("IPv4 counts alone; IPv6 by its /64 in one canonical form; IPv4-mapped IPv6 as IPv4; other text is cut", arguments: [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:0:1::5", "2001:db8:0:1::/64"),
        ("2001:0DB8:0000:0001:ffff:ffff:ffff:ffff", "2001:db8:0:1::/64"),
        ("::1", "0:0:0:0::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("garbage", "garbage"),
    ])
    func keys(address: String, key: String) {
        #expect(SourceAddressKey.of(address) == key)
    }

    @Test("A long non-address is cut to 64 bytes")
    func longText() {
        #expect(SourceAddressKey.of(String(repeating: "a", count: 500)).utf8.count == SourceAddressKey.maximumLength)
    }
}
