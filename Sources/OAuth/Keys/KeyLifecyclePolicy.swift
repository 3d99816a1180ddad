import Foundation

/// The timing rules of automatic key rotation.
///
/// A relying party that cached the JWKS must always be able to verify: a key is
/// published `publishAhead` before it signs (longer than the JWKS cache lifetime), and
/// stays published after it stops signing until every token it signed has expired,
/// plus the cache lifetime and a clock-skew margin.
public struct KeyLifecyclePolicy: Sendable, Equatable {
    /// How long a key signs before the next one takes over (`TESSERA_KEY_ROTATION_PERIOD`).
    public var rotationPeriod: TimeInterval
    /// `Cache-Control: max-age` of the JWKS document.
    public var jwksMaxAge: TimeInterval
    /// How long a `next` key must have been published before it may sign; longer than `jwksMaxAge`
    /// (default twice as long), so every cached JWKS has been refreshed and holds it.
    public var publishAhead: TimeInterval
    /// The longest lifetime of any token a key signs (ID and access tokens).
    public var maxTokenLifetime: TimeInterval
    /// Allowance for clocks of relying parties running ahead or behind.
    public var clockSkew: TimeInterval

    public init(rotationPeriod: TimeInterval = 30 * 86_400, jwksMaxAge: TimeInterval = 600, publishAhead: TimeInterval? = nil,
                maxTokenLifetime: TimeInterval = 3_600, clockSkew: TimeInterval = 300) {
        self.rotationPeriod = rotationPeriod
        self.jwksMaxAge = jwksMaxAge
        self.publishAhead = publishAhead ?? 2 * jwksMaxAge
        self.maxTokenLifetime = maxTokenLifetime
        self.clockSkew = clockSkew
    }

    /// Why these timings could leave a token unverifiable, or nil when they are sound.
    public var problem: String? {
        if rotationPeriod <= 0 { return "the rotation period must be positive" }
        if publishAhead <= jwksMaxAge { return "the publish-ahead period (\(Int(publishAhead)) s) must be longer than the JWKS max-age (\(Int(jwksMaxAge)) s)" }
        if rotationPeriod < publishAhead { return "the rotation period must be at least the publish-ahead period (\(Int(publishAhead)) s)" }
        return nil
    }

    /// How long a retired key stays published.
    public var retiredPublicationPeriod: TimeInterval { maxTokenLifetime + jwksMaxAge + clockSkew }
}
