import Foundation
import OAuth

/// Runs storage's sweeps of expired records periodically on this instance (the sweep itself makes
/// sure only one instance works at a time).
final class Janitor: Sendable {
    let store: any ExpiredRecordSweeper
    let interval: TimeInterval
    private let logger: Logger
    private let tasks = BackgroundTasks()

    init(store: any ExpiredRecordSweeper, interval: TimeInterval, logger: Logger) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    func start() {
        tasks.add([Task { [store, interval, logger] in
            while !Task.isCancelled {
                do { try await Task.sleep(for: .milliseconds(Int64(interval * 1_000))) } catch { return }
                do {
                    guard let deleted = try await store.sweep() else { continue }
                    if !deleted.isEmpty {
                        logger.info("expired rows deleted", [
                                                            "rows": deleted.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")])
                    }
                } catch {
                    logger.warning("janitor sweep failed", ["error": "\(error)"])
                }
            }
        }])
    }

    func stop() async { await tasks.stopAll() }
}
