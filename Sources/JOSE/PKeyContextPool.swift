internal import COpenSSL
import Synchronization

/// `EVP_PKEY_CTX` objects ready for one operation (signing or verifying) with one key, reused from call to
/// call.
///
/// A context is initialised once (`EVP_PKEY_sign_init` or `EVP_PKEY_verify_init`, SHA-256, padding) as the
/// template; the pool hands out copies of it. A copy is used by one thread at a time and then kept for the
/// next call, so a signature costs no context allocation, no provider context set-up and none of the
/// reference-count updates on the shared key and digest that a fresh copy makes (which, between threads,
/// are contended cache lines). OpenSSL allows a context to be used for any number of operations after one
/// `…_init`; a context whose operation failed is freed rather than kept, so that no error state carries over.
///
/// Thread safety (why `@unchecked Sendable` is sound): the template is only read (by `EVP_PKEY_CTX_dup`,
/// which OpenSSL allows concurrently); the idle contexts are behind a mutex and each handed-out context
/// belongs to exactly one caller until it is given back.
final class PKeyContextPool: @unchecked Sendable {
    /// Bounds the contexts kept between calls (each is a few hundred bytes). More concurrent callers than
    /// this still work: the extra contexts are freed after use instead of kept.
    static let maximumIdle = 16

    /// An `EVP_PKEY_CTX *` that nobody is using, so it may move to whichever thread takes it next.
    private struct IdleContext: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    /// `EVP_PKEY_CTX *`, initialised for the operation; never used directly.
    private let template: OpaquePointer
    private let idle = Mutex<[IdleContext]>([])

    /// Takes ownership of `template`: it is freed with the pool.
    init(template: OpaquePointer) {
        self.template = template
    }

    deinit {
        idle.withLock { contexts in
            for context in contexts { EVP_PKEY_CTX_free(context.pointer) }
            contexts.removeAll()
        }
        EVP_PKEY_CTX_free(template)
    }

    /// Runs `body` with a context of its own. `body` says whether the operation succeeded: only then is the
    /// context kept for later calls. Nil when no context could be made (OpenSSL out of memory).
    func withContext<Result>(_ body: (OpaquePointer) -> (result: Result, succeeded: Bool)) -> Result? {
        guard let context = idle.withLock({ $0.popLast()?.pointer }) ?? EVP_PKEY_CTX_dup(template) else { return nil }
        let outcome = body(context)
        if !outcome.succeeded || !keep(context) {
            EVP_PKEY_CTX_free(context)
        }
        return outcome.result
    }

    /// Puts `context` back among the idle ones, unless there are enough already.
    private func keep(_ context: OpaquePointer) -> Bool {
        idle.withLock { contexts in
            guard contexts.count < Self.maximumIdle else { return false }
            contexts.append(IdleContext(pointer: context))
            return true
        }
    }

    /// The number of contexts kept between calls (for tests).
    var idleCount: Int { idle.withLock { $0.count } }
}
