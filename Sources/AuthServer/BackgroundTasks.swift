import Synchronization

/// The tasks a service runs in the background, cancelled and awaited together on stop.
final class BackgroundTasks: Sendable {
    private let tasks = Mutex<[Task<Void, Never>]>([])

    func add(_ started: [Task<Void, Never>]) {
        tasks.withLock { $0 += started }
    }

    /// Cancels every task and returns once each has ended, so that nothing they do
    /// (a libpq or OpenSSL call) is still running when the process exits.
    func stopAll() async {
        let running = tasks.withLock { tasks in
            defer { tasks.removeAll() }
            return tasks
        }
        running.forEach { $0.cancel() }
        for task in running {
            await task.value
        }
    }
}
