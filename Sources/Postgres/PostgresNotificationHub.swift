import Foundation
import Synchronization

/// One `LISTEN` connection that carries every notification channel of a deployment, and
/// hands each subscriber the events of its own channel.
///
/// Channels are scoped to the deployment: on the server a channel is named after the schema
/// the session's tables live in (`<channel>_<schema oid>`), so deployments that share a
/// database in different schemas never hear each other. Send with
/// ``PostgresQuery/notify(_:payload:)``, which scopes the name the same way, from a session
/// with the same `search_path`.
///
/// Every subscriber gets `.connected` after each (re)connect, when notifications sent while
/// disconnected may have been missed, and `.disconnected` when the connection is lost; both
/// reach all subscribers, so each one resynchronises by its own rules.
public final class PostgresNotificationHub: Sendable {
    private let configuration: PostgresConfiguration
    private let subscribers = Mutex<[Subscriber]>([])
    private let state = ListenerState()

    private struct Subscriber: Sendable {
        let channel: String
        /// Called on the listener thread for every event of the channel; must not block.
        let deliver: @Sendable (PostgresListenerEvent) -> Void
        let finish: @Sendable () -> Void
    }

    public init(configuration: PostgresConfiguration) {
        self.configuration = configuration
    }

    deinit {
        stop()
    }

    /// The events of `channel` (its notifications, named by `channel` unscoped) and every
    /// `.connected` and `.disconnected`. Subscribe before `start()`: the channels are listened
    /// to from then on. Bounded like ``PostgresListener/events``.
    public func subscribe(_ channel: String) -> AsyncStream<PostgresListenerEvent> {
        subscribe(channel) { $0 }
    }

    /// ``subscribe(_:)`` with each event transformed on the listener thread as it arrives (no task
    /// in between): `transform` must be cheap and must not block.
    public func subscribe<Event: Sendable>(_ channel: String, transform: @escaping @Sendable (PostgresListenerEvent) -> Event) -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(PostgresListener.bufferLimit))
        subscribers.withLock {
            $0.append(Subscriber(channel: channel, deliver: { continuation.yield(transform($0)) }, finish: { continuation.finish() }))
        }
        if state.isStopped { continuation.finish() }
        return stream
    }

    /// Calls `handler` on the listener thread for every event of `channel`, as it arrives: for
    /// reactions that must not wait for a task (dropping a cache entry). `handler` must be cheap and
    /// must not block. Register before `start()`.
    public func observe(_ channel: String, _ handler: @escaping @Sendable (PostgresListenerEvent) -> Void) {
        subscribers.withLock { $0.append(Subscriber(channel: channel, deliver: handler, finish: {})) }
    }

    /// Starts the listener thread; calling it again, or after `stop()`, does nothing.
    public func start() {
        guard state.markStarted() else { return }
        let subscribers = subscribers.withLock { $0 }
        let channels = Array(Set(subscribers.map(\.channel)))
        ListenerLoop.start(
            configuration: configuration, state: state, name: "postgres-notifications",
            listen: { connection in
                let scope = try PostgresNotificationScope.current(connection)
                return Dictionary(uniqueKeysWithValues: channels.map { (PostgresNotificationScope.name($0, scope: scope), $0) })
            },
            emit: { event in
                switch event {
                case .notification(let channel, _):
                    for subscriber in subscribers where subscriber.channel == channel { subscriber.deliver(event) }
                case .connected, .disconnected:
                    for subscriber in subscribers { subscriber.deliver(event) }
                }
            },
            finish: {
                for subscriber in subscribers { subscriber.finish() }
            })
    }

    /// Stops listening and finishes every subscriber's stream (within a fraction of a second).
    public func stop() {
        if state.markStopped() {
            // Never started: nobody else will finish the streams.
            for subscriber in subscribers.withLock({ $0 }) { subscriber.finish() }
        }
    }
}

/// How a channel is scoped to the deployment whose tables the session sees.
enum PostgresNotificationScope {
    /// The scope as SQL: the oid of the session's current schema (where unqualified table names
    /// resolve), as text. Unique within the database, short enough for any channel name.
    static let sql = "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())::text"

    static func current(_ connection: PostgresConnection) throws -> String {
        let rows = try connection.query(PostgresQuery(unsafeSQL: "SELECT " + sql))
        guard let scope = try rows.first?.decode(0, as: String?.self) else {
            throw PostgresError(kind: .protocolViolation, message: "the session has no current schema to scope notification channels by")
        }
        return scope
    }

    static func name(_ channel: String, scope: String) -> String {
        channel + "_" + scope
    }
}

extension PostgresQuery {
    /// `NOTIFY` on `channel` scoped to the session's current schema, as
    /// ``PostgresNotificationHub`` listens to it; `payload` travels as a bound parameter.
    public static func notify(_ channel: String, payload: String) -> PostgresQuery {
        PostgresQuery(
            unsafeSQL: "SELECT pg_notify($1 || '_' || \(PostgresNotificationScope.sql), $2)",
            binds: [channel.postgresBind, payload.postgresBind])
    }
}
