import Foundation
import JOSE

/// One step of the key lifecycle, decided from the stored keys and the time.
public enum KeyLifecycleAction: Sendable, Equatable {
    /// Generate a key for `algorithm` in `state` (`active` only when none exists at all).
    case create(JWSAlgorithm, SigningKeyState)
    /// Retire the active key of its algorithm and activate `next`.
    case rotate(retiring: String?, activating: String)
    /// Remove a retired key whose publication period is over.
    case delete(kid: String)
}

/// The decisions of automatic rotation, as a pure function of the keys and the clock.
public enum KeyLifecycle {
    /// What must happen now so that every algorithm has one `active` and one `next` key,
    /// rotation happens on schedule, and expired retired keys go.
    public static func plan(keys: [SigningKeyRecord], now: Date, policy: KeyLifecyclePolicy) -> [KeyLifecycleAction] {
        var actions: [KeyLifecycleAction] = []
        for algorithm in JWSAlgorithm.allCases {
            let active = keys.first { $0.algorithm == algorithm && $0.state == .active }
            let next = keys.first { $0.algorithm == algorithm && $0.state == .next }
            switch (active, next) {
            case (nil, nil):
                // First start: nothing was ever signed, so the key may sign at once.
                actions.append(.create(algorithm, .active))
                actions.append(.create(algorithm, .next))
            case (nil, let next?):
                // The active key was retired in an emergency: the published next key takes over now.
                actions.append(.rotate(retiring: nil, activating: next.kid))
                actions.append(.create(algorithm, .next))
            case (_?, nil):
                actions.append(.create(algorithm, .next))
            case (let active?, let next?):
                let due = (active.activatedAt ?? active.createdAt).addingTimeInterval(policy.rotationPeriod) <= now
                // The next key signs only after it has been published longer than any JWKS cache lasts.
                let announced = next.createdAt.addingTimeInterval(policy.publishAhead) <= now
                if due && announced {
                    actions.append(.rotate(retiring: active.kid, activating: next.kid))
                    actions.append(.create(algorithm, .next))
                }
            }
        }
        for key in keys where key.state == .retired {
            if let until = key.unpublishAfter, until <= now {
                actions.append(.delete(kid: key.kid))
            }
        }
        return actions
    }
}
