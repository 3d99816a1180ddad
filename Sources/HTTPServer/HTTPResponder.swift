/// The one seam between transport and application: turns a request into a response.
///
/// A request takes one of two paths:
/// - **Immediate**: the event loop first calls `respondImmediately(to:)` on its own thread, as soon
///   as the request is parsed. A response returned there is queued on the connection at once and
///   written by the same thread in the same pass (when no earlier response on that connection is
///   still pending; pipelined answers stay in order), with no task, no thread hop and no wake-up.
///   Such a response does not count against `maxInFlightRequests`: nothing waits, so nothing queues.
/// - **Asynchronous**: when `respondImmediately(to:)` returns nil (the default), `respond(to:)`
///   runs as a Swift task and its response is handed back to the loop.
///
/// `respondImmediately(to:)` runs on the thread that serves every connection of its loop, so it
/// must answer only what needs no I/O and no waiting: no database, no Argon2, no lock that can be
/// held for long, no `await`. Whatever it returns must be exactly what `respond(to:)` would answer
/// for the same request, so that callers of either see the same behaviour; returning nil is always
/// correct.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest) async -> HTTPResponse

    /// The response to `request` if it can be made at once without I/O, on the calling thread;
    /// nil to take the asynchronous path. The default returns nil.
    func respondImmediately(to request: HTTPRequest) -> HTTPResponse?
}

extension HTTPResponder {
    public func respondImmediately(to request: HTTPRequest) -> HTTPResponse? { nil }
}
