import Foundation
import Synchronization

/// A clock tests move by hand: one offset drives both the wall clock and the monotonic clock.
public final class TestClock: Sendable {
    public init() {}

    public let startDate = Date(timeIntervalSince1970: 1_800_000_000)
    public let startInstant = ContinuousClock.now
    private let offset = Mutex<Duration>(.zero)

    public func advance(by duration: Duration) {
        offset.withLock { $0 += duration }
    }

    public var date: Date {
        startDate.addingTimeInterval(offset.withLock { $0 } / .seconds(1))
    }

    public var instant: ContinuousClock.Instant {
        startInstant + offset.withLock { $0 }
    }
}
