import Foundation
import OAuth

/// What each person allowed each client, and whether an authorization request needs consent.
struct Consents: Sendable {
    let store: any ConsentStore

    /// Whether the user must (still) consent: not for first-party clients; otherwise when
    /// `prompt=consent` asks, or the scope is not within what was allowed before.
    func isNeeded(_ request: AuthorizationRequest, client: Client, userID: UUID) async throws -> Bool {
        if client.skipsConsent { return false }
        if request.has(.consent) { return true }
        return !request.scope.isSubset(of: try await store.consentedScope(userID: userID, clientID: client.id))
    }

    /// Adds `scope` to what the user allowed the client.
    func grant(userID: UUID, clientID: String, scope: Scope) async throws {
        try await store.grantConsent(userID: userID, clientID: clientID, scope: scope)
    }
}
