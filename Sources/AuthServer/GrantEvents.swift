import Foundation
import OAuth

/// What the grants report (``GrantObserver``): this instance's revocation set learns what storage
/// revoked at once, and incidents are audited and counted.
struct GrantEvents: GrantObserver {
    let revocations: RevocationService
    let audit: AuditLog
    let metrics: Metrics

    func revoked(_ tokens: [AccessTokenRecord]) {
        revocations.didRevoke(tokens)
    }

    func codeReplayed(clientID: String) {
        audit.record(.codeReused, ["client_id": clientID])
        metrics.revoked("code_reuse")
    }

    func refreshTokenReused(clientID: String, familyID: UUID) {
        let family = familyID.uuidString.lowercased()
        audit.record(.refreshReuseDetected, ["client_id": clientID, "family": family])
        audit.record(.familyRevoked, ["client_id": clientID, "family": family, "reason": "refresh token reused"])
        metrics.refreshReuseDetected()
        metrics.revoked("family")
    }

    func refreshGraceRetry(clientID: String, familyID: UUID) {
        audit.record(.refreshGraceRetry, ["client_id": clientID, "family": familyID.uuidString.lowercased()])
    }
}
