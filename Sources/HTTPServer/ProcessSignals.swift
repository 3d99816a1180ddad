import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Waiting for the signals that ask a server process to stop.
public enum ProcessSignals {
    /// Suspends until SIGTERM or SIGINT arrives and returns its number.
    ///
    /// The default actions are suspended while waiting (so the process does not die before it can
    /// shut down gracefully) and restored afterwards, so a second signal stops the process at once.
    public static func waitForTermination() async -> Int32 {
        let signals: [Int32] = [SIGTERM, SIGINT]
        let waiter = SignalWaiter()
        let queue = DispatchQueue(label: "process-signals")
        var sources: [DispatchSourceSignal] = []
        for number in signals {
            // Dispatch observes signals only when their default action (terminate) is disabled.
            System.setSignalIgnored(number, true)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { waiter.received(number) }
            source.resume()
            sources.append(source)
        }
        let received = await withCheckedContinuation { continuation in
            waiter.install(continuation)
        }
        for source in sources {
            source.cancel()
        }
        for number in signals {
            System.setSignalIgnored(number, false)
        }
        return received
    }
}

/// Delivers the first signal to one continuation, whichever of the two arrives first.
private final class SignalWaiter: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Int32, Never>?
        var signal: Int32?
        var isDone = false
    }

    private let state = Mutex(State())

    func install(_ continuation: CheckedContinuation<Int32, Never>) {
        let pending: Int32? = state.withLock { state in
            if let signal = state.signal, !state.isDone {
                state.isDone = true
                return signal
            }
            state.continuation = continuation
            return nil
        }
        if let pending { continuation.resume(returning: pending) }
    }

    func received(_ signal: Int32) {
        let continuation: CheckedContinuation<Int32, Never>? = state.withLock { state in
            guard !state.isDone else { return nil }
            guard let continuation = state.continuation else {
                if state.signal == nil { state.signal = signal }
                return nil
            }
            state.isDone = true
            state.continuation = nil
            return continuation
        }
        continuation?.resume(returning: signal)
    }
}
