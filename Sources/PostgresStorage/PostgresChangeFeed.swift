import OAuth
import Postgres

/// ``ChangeFeed`` on the instance's one LISTEN connection (``PostgresNotificationHub``): each topic
/// is the channel its store notifies on.
public struct PostgresChangeFeed: ChangeFeed {
    public let hub: PostgresNotificationHub

    public init(hub: PostgresNotificationHub) { self.hub = hub }

    /// The channel each store announces its changes on.
    public static func channel(_ topic: ChangeTopic) -> String {
        switch topic {
        case .signingKeys: PostgresSigningKeyStore.channel
        case .clients: PostgresClientStore.channel
        case .users: PostgresUserStore.channel
        case .revocations: PostgresLoginStore.revocationChannel
        }
    }

    public func subscribe(_ topic: ChangeTopic) -> AsyncStream<ChangeEvent> {
        hub.subscribe(Self.channel(topic), transform: Self.event)
    }

    public func observe(_ topic: ChangeTopic, _ handler: @escaping @Sendable (ChangeEvent) -> Void) {
        hub.observe(Self.channel(topic)) { handler(Self.event($0)) }
    }

    @Sendable static func event(_ event: PostgresListenerEvent) -> ChangeEvent {
        switch event {
        case .notification(_, let payload): .changed(payload: payload)
        case .connected: .connected
        case .disconnected: .disconnected
        }
    }
}
