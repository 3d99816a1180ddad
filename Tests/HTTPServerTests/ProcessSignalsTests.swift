#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
@testable import HTTPServer

@Suite struct ProcessSignalsTests {
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
}
