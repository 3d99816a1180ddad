import Foundation

/// Something that happened to a `PostgresListener`.
public enum PostgresListenerEvent: Sendable, Hashable {
    /// A `NOTIFY` on one of the channels.
    case notification(channel: String, payload: String)
    /// The listener is connected and listening: after the first connect and after every
    /// reconnect. Notifications sent while it was disconnected are lost, so consumers
    /// resynchronise (reload whatever they cache) on this event.
    case connected
    /// The connection was lost; the listener is reconnecting.
    case disconnected
}

/// Receives `LISTEN`/`NOTIFY` notifications on a dedicated connection and thread.
///
/// The thread waits on the connection's socket (`poll`), reads with `PQconsumeInput` and
/// takes notifications with `PQnotifies`. When the server goes away it reconnects with
/// backoff and listens again. Send with `pool.query("SELECT pg_notify(\(channel), \(payload))")`.
public final class PostgresListener: Sendable {
    /// Events in order. Bounded: if the consumer falls more than `bufferLimit` events behind,
    /// the oldest are dropped.
    public let events: AsyncStream<PostgresListenerEvent>
    /// How many undelivered events `events` keeps.
    public static let bufferLimit = 10_000

    private let configuration: PostgresConfiguration
    private let channels: [String]
    private let continuation: AsyncStream<PostgresListenerEvent>.Continuation
    private let state = ListenerState()

    public init(configuration: PostgresConfiguration, channels: [String]) {
        self.configuration = configuration
        self.channels = channels
        (events, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(Self.bufferLimit))
    }

    deinit {
        stop()
    }

    /// Starts the listener thread; calling it again, or after `stop()`, does nothing.
    public func start() {
        guard state.markStarted() else { return }
        let configuration = configuration
        let channels = channels
        let continuation = continuation
        let state = state
        let thread = Thread {
            Self.run(configuration: configuration, channels: channels, continuation: continuation, state: state)
        }
        thread.name = "postgres-listener"
        thread.start()
    }

    /// Stops listening and finishes `events` (within a fraction of a second).
    public func stop() {
        if state.markStopped() {
            // Never started: nobody else will finish the stream.
            continuation.finish()
        }
    }

    /// How long the thread sleeps in `poll` before checking for `stop()`.
    private static let pollMilliseconds: Int32 = 100
    /// Silence after which the listener runs `SELECT 1` to find out whether the peer is gone.
    private static let keepaliveSeconds = 15.0
    /// Reconnect backoff bounds.
    private static let initialBackoff = 0.05
    private static let maximumBackoff = 5.0

    private static func run(
        configuration: PostgresConfiguration, channels: [String],
        continuation: AsyncStream<PostgresListenerEvent>.Continuation, state: ListenerState
    ) {
        var backoff = initialBackoff
        while !state.isStopped {
            let connection: PostgresConnection
            do {
                connection = try PostgresConnection.connect(configuration)
                for channel in channels {
                    // LISTEN takes no parameters: the channel is quoted as an identifier.
                    try connection.executeScript(unsafeSQL: "LISTEN " + connection.escapeIdentifier(channel))
                }
            } catch {
                state.sleep(seconds: backoff)
                backoff = min(backoff * 2, maximumBackoff)
                continue
            }
            backoff = initialBackoff
            continuation.yield(.connected)
            connection.pumpNotifications(
                pollMilliseconds: pollMilliseconds, keepaliveSeconds: keepaliveSeconds,
                shouldStop: { state.isStopped },
                deliver: { channel, payload in
                    continuation.yield(.notification(channel: channel, payload: payload))
                })
            if state.isStopped { break }
            continuation.yield(.disconnected)
        }
        continuation.finish()
    }
}

/// Started/stopped flags shared by a listener and its thread.
private final class ListenerState: @unchecked Sendable {
    private let condition = NSCondition()
    private var started = false
    private var stopped = false

    var isStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }

    func markStarted() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !started, !stopped else { return false }
        started = true
        return true
    }

    /// Returns true when the listener was never started.
    func markStopped() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopped else { return false }
        stopped = true
        condition.broadcast()
        return !started
    }

    /// Sleeps for `seconds`, waking early when stopped.
    func sleep(seconds: Double) {
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        while !stopped && Date() < deadline {
            _ = condition.wait(until: deadline)
        }
        condition.unlock()
    }
}
