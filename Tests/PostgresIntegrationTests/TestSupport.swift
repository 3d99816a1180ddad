import Foundation
import Postgres
import Testing

/// The test cluster started by scripts/with-test-postgres.sh, reached through libpq's PG* variables.
enum TestDatabase {
    static let environment = ProcessInfo.processInfo.environment
    static let isAvailable = environment["PGHOST"] != nil
    static let skipReason: Comment = "PGHOST is not set: run under scripts/with-test-postgres.sh to test against PostgreSQL"

    /// A configuration whose search_path is a new, empty schema, so tests do not see each other's tables.
    static func freshSchema(_ prefix: String) async throws -> PostgresConfiguration {
        let name = "\(prefix)_\(UInt32.random(in: 0...UInt32.max))"
        let admin = PostgresPool(configuration: .environment(), size: 1)
        // DDL takes no parameters; the name is made here from a constant and digits.
        try await admin.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(name)"))
        await admin.close()
        var configuration = PostgresConfiguration.environment()
        configuration.searchPath = name
        return configuration
    }

    /// Restarts the server with `pg_ctl restart -m fast`, which terminates every session.
    static func restartServer() async throws {
        guard let data = environment["TESSERA_TEST_PGDATA"], let bin = environment["TESSERA_TEST_PGBIN"] else {
            throw PostgresError(kind: .connection, message: "TESSERA_TEST_PGDATA/TESSERA_TEST_PGBIN are not set")
        }
        var arguments = ["\(bin)/pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "60", "restart"]
        if let log = environment["TESSERA_TEST_PGLOG"] {
            arguments += ["-l", log]
        }
        let process = Process()
        if getuid() == 0 {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = ["-u", "postgres", "--"] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: arguments[0])
            process.arguments = Array(arguments.dropFirst())
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Foundation learns of a child's exit through a descriptor the child inherits, and
        // the server pg_ctl starts inherits it too: reap pg_ctl with waitpid(2) instead, on
        // a thread of its own so that no thread of the cooperative pool blocks.
        let pid = process.processIdentifier
        let status: Int32 = await withCheckedContinuation { continuation in
            Thread {
                var raw: Int32 = 0
                var result: pid_t
                repeat {
                    result = waitpid(pid, &raw, 0)
                } while result == -1 && errno == EINTR
                // WIFEXITED / WEXITSTATUS, which Swift does not import as functions.
                let exit: Int32 = result == pid && (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : -1
                continuation.resume(returning: exit)
            }.start()
        }
        #expect(status == 0, "pg_ctl restart failed")
    }
}

/// Lets ordinary tests share the server while a test that restarts it runs alone.
actor ServerGate {
    static let shared = ServerGate()

    private var readers = 0
    private var writer = false
    private var queue: [(exclusive: Bool, continuation: CheckedContinuation<Void, Never>)] = []

    func acquire(exclusive: Bool) async {
        if queue.isEmpty && canEnter(exclusive) {
            enter(exclusive)
            return
        }
        await withCheckedContinuation { continuation in
            queue.append((exclusive, continuation))
        }
    }

    func release(exclusive: Bool) {
        if exclusive { writer = false } else { readers -= 1 }
        while let first = queue.first, canEnter(first.exclusive) {
            queue.removeFirst()
            enter(first.exclusive)
            first.continuation.resume()
        }
    }

    private func canEnter(_ exclusive: Bool) -> Bool {
        exclusive ? !writer && readers == 0 : !writer
    }

    private func enter(_ exclusive: Bool) {
        if exclusive { writer = true } else { readers += 1 }
    }
}

/// Runs `body` while the server is up; `exclusive` bodies may restart it.
func withServer(exclusive: Bool = false, _ body: () async throws -> Void) async throws {
    await ServerGate.shared.acquire(exclusive: exclusive)
    do {
        try await body()
        await ServerGate.shared.release(exclusive: exclusive)
    } catch {
        await ServerGate.shared.release(exclusive: exclusive)
        throw error
    }
}

/// Collects listener events so a test can wait for a condition with a deadline.
actor EventLog {
    private(set) var events: [PostgresListenerEvent] = []

    func append(_ event: PostgresListenerEvent) {
        events.append(event)
    }

    func waitUntil(
        timeout: Duration = .seconds(15), _ predicate: @Sendable ([PostgresListenerEvent]) -> Bool
    ) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if predicate(events) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return predicate(events)
    }

    func count(of event: PostgresListenerEvent) -> Int {
        events.filter { $0 == event }.count
    }
}

/// Waits for `operation` to succeed, retrying a few times (for recovery after a restart).
func eventually<T: Sendable>(
    attempts: Int = 20, delay: Duration = .milliseconds(250), _ operation: () async throws -> T
) async throws -> (value: T, failures: Int) {
    var failures = 0
    while true {
        do {
            return (try await operation(), failures)
        } catch {
            failures += 1
            if failures >= attempts { throw error }
            try await Task.sleep(for: delay)
        }
    }
}
