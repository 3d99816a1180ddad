/// Whose tokens a principal revocation ends: a client's (disabled or deleted) or a user's.
public enum RevokedPrincipal: Sendable, Hashable {
    /// Every access token issued to this client id (any subject).
    case client(String)
    /// Every access token whose `sub` is this user's subject (any client).
    case user(String)

    /// The kind as stored and announced.
    public var kind: String {
        switch self {
        case .client: "client"
        case .user: "user"
        }
    }

    /// The client id or user subject.
    public var name: String {
        switch self {
        case .client(let id), .user(let id): id
        }
    }
}

/// The revoked access tokens an instance knows, answered from memory: single tokens by `jti`,
/// and every token of a principal issued up to a cut-off.
///
/// A principal revocation is written when a client or a user is disabled or deleted: its tokens
/// issued at or before `issuedBefore` (seconds since the epoch) are revoked, later ones (after it
/// is enabled again) are not. The cut-off includes the second after the change, so a token that
/// another instance issued while it had not yet heard of the change is revoked too.
public struct RevocationSet: Sendable, Equatable {
    /// Revoked token ids → the token's expiry (seconds since the epoch).
    public var tokens: [String: Int64] = [:]
    /// Client id → the cut-off and when the entry may be forgotten.
    public var clients: [String: PrincipalCutoff] = [:]
    /// User subject → the cut-off and when the entry may be forgotten.
    public var subjects: [String: PrincipalCutoff] = [:]

    public struct PrincipalCutoff: Sendable, Equatable {
        /// Tokens with `iat` at or before this are revoked.
        public var issuedBefore: Int64
        /// After this, every token issued before the cut-off has expired.
        public var expiresAt: Int64
        public init(issuedBefore: Int64, expiresAt: Int64) {
            self.issuedBefore = issuedBefore
            self.expiresAt = expiresAt
        }
    }

    public init() {}

    /// Whether the token these claims describe is revoked.
    public func isRevoked(_ claims: AccessTokenClaims) -> Bool {
        if tokens[claims.jwtID] != nil { return true }
        if let cutoff = clients[claims.clientID], claims.issuedAt <= cutoff.issuedBefore { return true }
        if let cutoff = subjects[claims.subject], claims.issuedAt <= cutoff.issuedBefore { return true }
        return false
    }

    public var isEmpty: Bool { tokens.isEmpty && clients.isEmpty && subjects.isEmpty }

    public mutating func revoke(jti: String, expiresAt: Int64) {
        tokens[jti] = max(tokens[jti] ?? expiresAt, expiresAt)
    }

    public mutating func revoke(_ principal: RevokedPrincipal, cutoff: PrincipalCutoff) {
        func merged(_ existing: PrincipalCutoff?) -> PrincipalCutoff {
            guard let existing else { return cutoff }
            return PrincipalCutoff(issuedBefore: max(existing.issuedBefore, cutoff.issuedBefore), expiresAt: max(existing.expiresAt, cutoff.expiresAt))
        }
        switch principal {
        case .client(let id): clients[id] = merged(clients[id])
        case .user(let subject): subjects[subject] = merged(subjects[subject])
        }
    }

    /// Adds what `other` holds and this set lacks (a reload, merged with what was heard while it
    /// ran); entries of `other` that have expired by `now` are left out.
    public mutating func merge(_ other: RevocationSet, now: Int64) {
        for (jti, expiry) in other.tokens where expiry > now && tokens[jti] == nil { tokens[jti] = expiry }
        for (id, cutoff) in other.clients where cutoff.expiresAt > now { revoke(.client(id), cutoff: cutoff) }
        for (subject, cutoff) in other.subjects where cutoff.expiresAt > now { revoke(.user(subject), cutoff: cutoff) }
    }

    // MARK: - Announcements

    /// The payload announcing a principal revocation: `client <cut-off> <id>` or `user <cut-off> <subject>`.
    /// A token id (base64url) never contains a space, so the two kinds of payload cannot be confused.
    public static func announcement(_ principal: RevokedPrincipal, issuedBefore: Int64) -> String {
        "\(principal.kind) \(issuedBefore) \(principal.name)"
    }

    /// Applies an announced revocation: a `jti`, or a principal payload of ``announcement(_:issuedBefore:)``.
    /// The expiry is not announced; `assumedLifetime` (the longest a token can live) bounds it, and
    /// the next reload replaces the guess with the stored value.
    public mutating func apply(announcement payload: String, now: Int64, assumedLifetime: Int64) {
        let parts = payload.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        if parts.count == 3, let issuedBefore = Int64(parts[1]), !parts[2].isEmpty {
            let cutoff = PrincipalCutoff(issuedBefore: issuedBefore, expiresAt: issuedBefore + assumedLifetime)
            switch parts[0] {
            case "client": revoke(.client(String(parts[2])), cutoff: cutoff)
            case "user": revoke(.user(String(parts[2])), cutoff: cutoff)
            default: break
            }
            return
        }
        guard !payload.isEmpty, !payload.contains(" ") else { return }
        if tokens[payload] == nil { tokens[payload] = now + assumedLifetime }
    }
}
