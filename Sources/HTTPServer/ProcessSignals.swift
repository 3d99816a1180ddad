import Foundation
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
    /// A signal that arrives before this call still has its default action: a server should
    /// create a ``TerminationWatch`` before it starts serving instead.
    public static func waitForTermination() async -> Int32 {
        await TerminationWatch().wait()
    }
}

/// Catches SIGTERM and SIGINT from the moment it is created until ``wait()`` returns, so a
/// signal that arrives while a server is still starting is kept, not fatal or lost.
///
/// The handlers are installed synchronously in `init` (a C handler that writes the signal
/// number to a pipe, read by a thread of its own), so there is no moment in which a signal
/// is neither handled nor deadly. One watch is current per process: a newer one takes the
/// signals over.
public final class TerminationWatch: Sendable {
    private let waiter = SignalWaiter()

    public init() {
        let descriptor = System.installTerminationPipe()
        let waiter = waiter
        guard descriptor >= 0 else {
            // No pipe (descriptors exhausted): the default actions stay, so a signal still stops the process.
            System.restoreTerminationSignals()
            return
        }
        let reader = Thread {
            if let byte = System.readByte(descriptor) {
                waiter.received(Int32(byte))
            }
        }
        reader.start()
    }

    /// Suspends until the first SIGTERM or SIGINT since creation and returns its number; then
    /// the default actions are restored, so a second signal stops the process at once.
    public func wait() async -> Int32 {
        let received = await withCheckedContinuation { continuation in
            waiter.install(continuation)
        }
        System.restoreTerminationSignals()
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
