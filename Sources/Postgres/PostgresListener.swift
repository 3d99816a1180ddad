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
        let channels = Dictionary(channels.map { ($0, $0) }, uniquingKeysWith: { first, _ in first })
        let continuation = continuation
        ListenerLoop.start(
            configuration: configuration, state: state, name: "postgres-listener",
            listen: { _ in channels },
            emit: { continuation.yield($0) },
            finish: { continuation.finish() })
    }

    /// Stops listening and finishes `events` (within a fraction of a second).
    public func stop() {
        if state.markStopped() {
            // Never started: nobody else will finish the stream.
            continuation.finish()
        }
    }
}

/// The thread behind a listener: connect, `LISTEN`, pump notifications, and on any failure
/// reconnect with backoff and listen again, reporting `.connected` and `.disconnected`.
enum ListenerLoop {
    /// How long the thread sleeps in `poll` before checking for `stop()`.
    static let pollMilliseconds: Int32 = 100
    /// Silence after which the listener runs `SELECT 1` to find out whether the peer is gone.
    static let keepaliveSeconds = 15.0
    /// Reconnect backoff bounds: the longest pause is short, so that after a failover the
    /// caches are trusted again within moments of the new primary accepting connections.
    static let initialBackoff = 0.05
    static let maximumBackoff = 2.0

    /// - Parameters:
    ///   - listen: the channels to listen on for this connection, by their name on the server,
    ///     each with the name reported in events. Run after every connect.
    ///   - emit: called on the listener thread, in order.
    ///   - finish: called once, when the thread ends after `stop()`.
    static func start(
        configuration: PostgresConfiguration, state: ListenerState, name: String,
        listen: @escaping @Sendable (PostgresConnection) throws -> [String: String],
        emit: @escaping @Sendable (PostgresListenerEvent) -> Void,
        finish: @escaping @Sendable () -> Void
    ) {
        let thread = Thread {
            run(configuration: configuration, state: state, listen: listen, emit: emit)
            finish()
        }
        thread.name = name
        thread.start()
    }

    private static func run(
        configuration: PostgresConfiguration, state: ListenerState,
        listen: (PostgresConnection) throws -> [String: String], emit: (PostgresListenerEvent) -> Void
    ) {
        var backoff = initialBackoff
        while !state.isStopped {
            let connection: PostgresConnection
            let names: [String: String]
            do {
                connection = try PostgresConnection.connect(configuration)
                names = try listen(connection)
                // LISTEN takes no parameters: each channel is quoted as an identifier. One script,
                // so that one round trip subscribes to every channel.
                let script = try names.keys.sorted().map { "LISTEN " + (try connection.escapeIdentifier($0)) }.joined(separator: "; ")
                if !script.isEmpty { try connection.executeScript(unsafeSQL: script) }
            } catch {
                state.sleep(seconds: backoff)
                backoff = min(backoff * 2, maximumBackoff)
                continue
            }
            backoff = initialBackoff
            emit(.connected)
            connection.pumpNotifications(
                pollMilliseconds: pollMilliseconds, keepaliveSeconds: keepaliveSeconds,
                shouldStop: { state.isStopped },
                deliver: { channel, payload in
                    guard let reported = names[channel] else { return }
                    emit(.notification(channel: reported, payload: payload))
                })
            if state.isStopped { break }
            emit(.disconnected)
        }
    }
}

/// Started/stopped flags shared by a listener and its thread.
final class ListenerState: @unchecked Sendable {
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
