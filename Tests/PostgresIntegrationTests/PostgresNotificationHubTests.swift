import Foundation
import Postgres
import Testing

@Suite(.enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct PostgresNotificationHubTests {
    static let channels = ["keys", "clients", "users", "revocations"]

    /// A hub in a fresh schema, with a recognisable application name, and a log per channel.
    static func hub(_ prefix: String) async throws -> (PostgresNotificationHub, PostgresConfiguration, [String: EventLog]) {
        var configuration = try await TestDatabase.freshSchema(prefix)
        configuration.applicationName = "hub-test-\(UInt32.random(in: 0...UInt32.max))"
        let hub = PostgresNotificationHub(configuration: configuration)
        var logs: [String: EventLog] = [:]
        for channel in channels {
            let log = EventLog()
            logs[channel] = log
            let events = hub.subscribe(channel)
            Task {
                for await event in events { await log.append(event) }
            }
        }
        return (hub, configuration, logs)
    }

    /// A pool in the same schema as `configuration`, under another application name.
    static func pool(_ configuration: PostgresConfiguration) -> PostgresPool {
        var sender = configuration
        sender.applicationName = "hub-test-sender"
        return PostgresPool(configuration: sender, size: 1)
    }

    @Test("Every subscriber hears only its own channel, all over one LISTEN connection")
    func oneConnectionForEveryChannel() async throws {
        try await withServer { () async throws in
            let (hub, configuration, logs) = try await Self.hub("hub_one")
            let pool = Self.pool(configuration)
            defer { Task { hub.stop(); await pool.close() } }
            hub.start()
            for log in logs.values { #expect(await log.waitUntil { $0.contains(.connected) }) }
            let sessions = try await pool.query(
                "SELECT count(*)::int8 FROM pg_stat_activity WHERE application_name = \(configuration.applicationName)")
            #expect(try sessions[0].decode(0, as: Int.self) == 1)
            for channel in Self.channels {
                try await pool.query(.notify(channel, payload: "for " + channel))
            }
            for channel in Self.channels {
                let log = try #require(logs[channel])
                #expect(await log.waitUntil { $0.contains(.notification(channel: channel, payload: "for " + channel)) })
                let notifications = await log.events.filter { if case .notification = $0 { true } else { false } }
                #expect(notifications == [.notification(channel: channel, payload: "for " + channel)])
            }
        }
    }

    @Test("Deployments in different schemas of one database never hear each other's notifications")
    func schemasDoNotCollide() async throws {
        try await withServer { () async throws in
            let (first, firstConfiguration, firstLogs) = try await Self.hub("hub_a")
            let (second, secondConfiguration, secondLogs) = try await Self.hub("hub_b")
            let firstPool = Self.pool(firstConfiguration)
            let secondPool = Self.pool(secondConfiguration)
            defer { Task { first.stop(); second.stop(); await firstPool.close(); await secondPool.close() } }
            first.start()
            second.start()
            for log in Array(firstLogs.values) + Array(secondLogs.values) { #expect(await log.waitUntil { $0.contains(.connected) }) }
            try await firstPool.query(.notify("keys", payload: "first's change"))
            // Sent after the first deployment's notification, so it arrives after it at a listener of both.
            try await secondPool.query(.notify("keys", payload: "second's change"))
            let firstKeys = try #require(firstLogs["keys"])
            let secondKeys = try #require(secondLogs["keys"])
            #expect(await firstKeys.waitUntil { $0.contains(.notification(channel: "keys", payload: "first's change")) })
            #expect(await secondKeys.waitUntil { $0.contains(.notification(channel: "keys", payload: "second's change")) })
            #expect(await !firstKeys.events.contains(.notification(channel: "keys", payload: "second's change")))
            #expect(await !secondKeys.events.contains(.notification(channel: "keys", payload: "first's change")))
        }
    }

    @Test("When the connection is cut every subscriber hears .disconnected, then .connected once it listens again")
    func reconnectReachesEverySubscriber() async throws {
        try await withServer { () async throws in
            let (hub, configuration, logs) = try await Self.hub("hub_cut")
            let pool = Self.pool(configuration)
            defer { Task { hub.stop(); await pool.close() } }
            hub.start()
            for log in logs.values { #expect(await log.waitUntil { $0.contains(.connected) }) }
            try await pool.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = \(configuration.applicationName)")
            for log in logs.values {
                #expect(await log.waitUntil { $0.filter { $0 == .connected }.count == 2 })
                let states = await log.events.filter { $0 == .connected || $0 == .disconnected }
                #expect(states == [.connected, .disconnected, .connected])
            }
            try await pool.query(.notify("users", payload: "after"))
            #expect(await logs["users"]?.waitUntil { $0.contains(.notification(channel: "users", payload: "after")) } == true)
        }
    }

    @Test("stop finishes every subscriber's stream, started or not")
    func stopFinishesStreams() async throws {
        let idle = PostgresNotificationHub(configuration: .environment())
        let events = idle.subscribe("keys")
        idle.stop()
        var iterator = events.makeAsyncIterator()
        #expect(await iterator.next() == nil)
        try await withServer { () async throws in
            let hub = PostgresNotificationHub(configuration: .environment())
            var stream = hub.subscribe("keys").makeAsyncIterator()
            hub.start()
            #expect(await stream.next() == .connected)
            hub.stop()
            #expect(await stream.next() == nil)
        }
    }
}
