/// Deletes what has expired (codes, sessions, interactions, refresh tokens, revocations…), so that
/// storage does not grow without bound.
public protocol ExpiredRecordSweeper: Sendable {
    /// One sweep; nil when another instance is sweeping now. Otherwise the records deleted by kind.
    func sweep() async throws -> [String: Int]?
}
