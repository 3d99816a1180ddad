import Foundation
import Postgres
import Testing

@Suite(.enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct PostgresListenerTests {
    @Test("NOTIFY on a listened channel is delivered with its payload; other channels are not")
    func delivery() async throws {
        try await withServer { () async throws in
            let channels = ["keys_changed", "Odd \"channel\" name", "ünï"]
            let listener = PostgresListener(configuration: .environment(), channels: channels)
            let log = EventLog()
            let consumer = Task { for await event in listener.events { await log.append(event) } }
            listener.start()
            #expect(await log.waitUntil { $0.contains(.connected) })
            let pool = PostgresPool(configuration: .environment(), size: 1)
            defer { Task { await pool.close() } }
            for channel in channels {
                try await pool.query("SELECT pg_notify(\(channel), \("payload for " + channel))")
            }
            try await pool.query("SELECT pg_notify(\("not_listened"), \("x"))")
            try await pool.query("SELECT pg_notify(\("keys_changed"), \(""))")
            #expect(await log.waitUntil { $0.contains(.notification(channel: "keys_changed", payload: "")) })
            let notifications = await log.events.filter { $0 != .connected }
            #expect(notifications == channels.map { .notification(channel: $0, payload: "payload for " + $0) } + [
                .notification(channel: "keys_changed", payload: "")
            ])
            listener.stop()
            await consumer.value  // the stream finishes after stop()
        }
    }

    @Test("Stopping a listener that never started finishes its stream")
    func stopWithoutStart() async {
        let listener = PostgresListener(configuration: .environment(), channels: ["x"])
        listener.stop()
        for await _ in listener.events {}
    }
}

/// Tests that restart the server; they hold the server gate exclusively.
@Suite(.serialized, .enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct PostgresRestartTests {
    @Test("The pool recovers after the server restarts, without being recreated")
    func poolReconnects() async throws {
        try await withServer(exclusive: true) { () async throws in
            let pool = PostgresPool(configuration: .environment(), size: 3)
            defer { Task { await pool.close() } }
            // Open every connection so all of them are broken by the restart.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 { group.addTask { try await pool.query("SELECT pg_sleep(0.1)") } }
                try await group.waitForAll()
            }
            let before = try await pool.query("SELECT pg_postmaster_start_time()")[0].decode(0, as: Date.self)
            try await TestDatabase.restartServer()
            let (after, failures) = try await eventually {
                try await pool.query("SELECT pg_postmaster_start_time()")[0].decode(0, as: Date.self)
            }
            #expect(after > before)
            #expect(failures <= 1, "at most the first call after the restart may fail")
            let results = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<30 { group.addTask { try await pool.query("SELECT \(index)")[0].decode(0, as: Int.self) } }
                return try await group.reduce(0, +)
            }
            #expect(results == (0..<30).reduce(0, +))
            #expect(await pool.ping())
        }
    }

    @Test("The listener reconnects, emits .connected again and keeps receiving after a restart")
    func listenerReconnects() async throws {
        try await withServer(exclusive: true) { () async throws in
            let listener = PostgresListener(configuration: .environment(), channels: ["restart_test"])
            let log = EventLog()
            let consumer = Task { for await event in listener.events { await log.append(event) } }
            defer { listener.stop() }
            listener.start()
            #expect(await log.waitUntil { $0.contains(.connected) })
            let pool = PostgresPool(configuration: .environment(), size: 1)
            defer { Task { await pool.close() } }
            try await pool.query("SELECT pg_notify(\("restart_test"), \("before"))")
            #expect(await log.waitUntil { $0.contains(.notification(channel: "restart_test", payload: "before")) })

            try await TestDatabase.restartServer()
            #expect(await log.waitUntil { events in
                events.contains(.disconnected) && events.filter { $0 == .connected }.count == 2
            })
            _ = try await eventually { try await pool.query("SELECT pg_notify(\("restart_test"), \("after"))") }
            #expect(await log.waitUntil { $0.contains(.notification(channel: "restart_test", payload: "after")) })
            let events = await log.events
            let disconnectedIndex = try #require(events.firstIndex(of: .disconnected))
            #expect(events[disconnectedIndex...].contains(.connected))
            listener.stop()
            await consumer.value
        }
    }
}
