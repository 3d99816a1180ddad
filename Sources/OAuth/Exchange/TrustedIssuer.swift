import Foundation
import JOSE

/// An external issuer whose JWTs may be exchanged here (RFC 8693 §2.1: a subject token may come from
/// "a different issuer"), as the operator registered it: where its keys are, which audiences its
/// tokens must name, and how its subjects appear in the tokens issued here.
public struct TrustedIssuerRegistration: Sendable, Equatable {
    /// The `iss` its tokens carry, compared byte for byte.
    public var issuer: String
    /// Its public keys, registered from a file; nil when they are fetched from ``jwksURI``.
    public var jwks: JWKS?
    /// Where its keys are published (an `https` URL, or `http` on loopback); nil when registered.
    public var jwksURI: String?
    /// Its tokens must have one of these in `aud` (RFC 7519 §4.1.3: "If the principal processing the
    /// claim does not identify itself with a value in the "aud" claim ... then the JWT MUST be rejected").
    public var audiences: [String]
    /// Put before its subjects in the `sub` of tokens issued here, so that they cannot be mistaken for
    /// this server's users or clients.
    public var subjectPrefix: String
    public var createdAt: Date
    public var updatedAt: Date

    public init(issuer: String, jwks: JWKS? = nil, jwksURI: String? = nil, audiences: [String], subjectPrefix: String = "",
                createdAt: Date, updatedAt: Date) {
        self.issuer = issuer
        self.jwks = jwks
        self.jwksURI = jwksURI
        self.audiences = audiences
        self.subjectPrefix = subjectPrefix
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Bounds what one registration holds.
    public static let maximumKeys = 32

    /// Why this registration is unusable, or nil when it is sound.
    public var problem: String? {
        if issuer.isEmpty || issuer.utf8.count > ActorIdentity.maximumMemberLength { return "the issuer must be 1 to \(ActorIdentity.maximumMemberLength) bytes" }
        if !ClientCredentialsGrant.isAbsoluteURIWithoutFragment(issuer) { return "the issuer must be an absolute URI without a fragment" }
        if (jwks == nil) == (jwksURI == nil) { return "exactly one of a JWKS file and a JWKS URI is required" }
        if let jwks {
            if jwks.keys.isEmpty || jwks.keys.count > Self.maximumKeys { return "the JWKS must hold 1 to \(Self.maximumKeys) keys" }
            for key in jwks.keys {
                do { _ = try VerificationKey(jwk: key) } catch { return "a key is not a usable RS256 or ES256 public key: \(error)" }
            }
        }
        if let jwksURI, let problem = Self.uriProblem(jwksURI) { return problem }
        if audiences.isEmpty { return "at least one audience is required (its tokens must name one of them in aud)" }
        if let bad = audiences.first(where: { $0.isEmpty || $0.utf8.count > 2_048 }) { return "audience '\(bad.prefix(64))' must be 1 to 2048 bytes" }
        if subjectPrefix.utf8.count > 64 || subjectPrefix.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7F }) {
            return "the subject prefix must be at most 64 printable ASCII characters without spaces"
        }
        return nil
    }

    /// Why `uri` cannot be a JWKS URI: it must be `https`, or `http` on loopback only (keys fetched in
    /// the clear could be replaced on the way).
    public static func uriProblem(_ uri: String) -> String? {
        guard ClientCredentialsGrant.isAbsoluteURIWithoutFragment(uri), let components = URLComponents(string: uri),
              let scheme = components.scheme?.lowercased(), let host = components.host, !host.isEmpty else {
            return "the JWKS URI must be an absolute http(s) URL"
        }
        if components.user != nil || components.password != nil { return "the JWKS URI must not carry credentials" }
        switch scheme {
        case "https": return nil
        case "http" where ["127.0.0.1", "::1", "[::1]", "localhost"].contains(host.lowercased()): return nil
        default: return "the JWKS URI must be https (http only on loopback)"
        }
    }
}

/// A trusted issuer as an exchange checks its tokens: its registration's rules and its current keys.
public struct TrustedIssuer: Sendable {
    public var issuer: String
    public var audiences: [String]
    public var subjectPrefix: String
    /// The keys its tokens are verified with (RS256 and ES256 only).
    public var keys: [VerificationKey]

    public init(issuer: String, audiences: [String], subjectPrefix: String, keys: [VerificationKey]) {
        self.issuer = issuer
        self.audiences = audiences
        self.subjectPrefix = subjectPrefix
        self.keys = keys
    }
}

/// The trusted external issuers an instance knows, with their keys, answered from memory.
public protocol TrustedIssuerDirectory: Sendable {
    /// The trusted issuer named `issuer`, or nil when it is not one. When `keyID` is among none of
    /// its keys (the issuer rotated them), a directory that fetches keys may fetch them again first,
    /// within its bounds.
    func trustedIssuer(_ issuer: String, keyID: String?) async throws -> TrustedIssuer?
}

/// Trusted issuers in storage, for the directory every instance keeps.
public protocol TrustedIssuerStore: Sendable {
    /// Every registration.
    func trustedIssuers() async throws -> [TrustedIssuerRegistration]
}
