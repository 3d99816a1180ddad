#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
@testable import HTTPServer

/// Signals are process-wide: these tests run one at a time.
@Suite(.serialized) struct ProcessSignalsTests {
    @Test("waitForTermination returns the number of the SIGINT the process receives")
    func returnsSignalNumber() async throws {
        let received = Mutex<Int32?>(nil)
        Task {
            let number = await ProcessSignals.waitForTermination()
            received.withLock { $0 = number }
        }
        try await Task.sleep(for: .milliseconds(300))
        kill(getpid(), SIGINT)
        for _ in 0..<40 where received.withLock({ $0 }) == nil {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(received.withLock { $0 } == SIGINT)
    }

    @Test("A SIGTERM that arrives right after the watch is created, before anyone waits, is kept and returned")
    func signalBeforeWait() async throws {
        for _ in 0..<20 {
            let watch = TerminationWatch()
            kill(getpid(), SIGTERM)
            let received = Mutex<Int32?>(nil)
            let waiting = Task {
                let number = await watch.wait()
                received.withLock { $0 = number }
            }
            for _ in 0..<100 where received.withLock({ $0 }) == nil {
                try await Task.sleep(for: .milliseconds(20))
            }
            waiting.cancel()
            #expect(received.withLock { $0 } == SIGTERM)
        }
    }
}

