import Foundation
import OAuth
import Synchronization

/// The in-memory twin of PostgreSQL storage: every store protocol of the OAuth module over one
/// shared state, with the same atomic outcomes, and failures that can be injected at each step.
///
/// Each operation works on a copy of the state and commits it only at its end, as a transaction
/// would: a failure injected at any ``Step`` leaves nothing changed. Time comes from `clock`.
public final class InMemoryStorage: AuthorizationCodeStore, RefreshTokenStore, LoginSessionStore, InteractionStore, ConsentStore,
    UserStore, RevocationStore, ExpiredRecordSweeper {
    /// The points inside operations where a failure can be injected.
    public enum Step: String, Sendable, CaseIterable {
        /// Before anything is read (the database cannot be reached).
        case begin
        /// A code found unredeemed is about to be marked redeemed.
        case markCodeRedeemed
        /// A redemption's refresh family is about to be created.
        case createFamily
        /// The access token a grant issues is about to be recorded with its family or code.
        case recordAccessToken
        /// A presented refresh token is about to be marked used.
        case markTokenUsed
        /// A rotation's successor is about to be stored.
        case insertSuccessor
        /// A family is about to be revoked.
        case revokeFamily
        /// Everything is done; the transaction is about to commit.
        case commit
    }

    /// The error an injected failure throws (like the database going away mid-transaction).
    public struct InjectedFailure: Error, Equatable {
        public let step: Step
    }

    struct Code {
        var code: AuthorizationCode
        var redeemed = false
        var accessToken: AccessTokenRecord?
        var familyID: UUID?
    }

    struct Family {
        var family: RefreshTokenFamily
        var revoked = false
        var accessTokens: [AccessTokenRecord] = []
    }

    struct Token {
        var familyID: UUID
        var generation: Int
        var createdAt: Date
        var expiresAt: Date
        var usedAt: Date?
    }

    struct State {
        var codes: [[UInt8]: Code] = [:]
        var families: [UUID: Family] = [:]
        var tokens: [[UInt8]: Token] = [:]
        var sessions: [[UInt8]: LoginSession] = [:]
        var interactions: [[UInt8]: StoredInteraction] = [:]
        var consents: [String: Scope] = [:]
        var users: [UUID: (user: User, passwordHash: String)] = [:]
        var revoked = RevocationSet()
    }

    private let state = Mutex(State())
    private let failures = Mutex<[Step: Int]>([:])
    public let clock: @Sendable () -> Date

    public init(clock: @escaping @Sendable () -> Date = Date.init) {
        self.clock = clock
    }

    // MARK: - Failure injection

    /// Makes the `occurrence`-th time an operation reaches `step` (counting from now) throw ``InjectedFailure``.
    public func failNext(at step: Step, occurrence: Int = 1) {
        failures.withLock { $0[step] = occurrence }
    }

    private func reach(_ step: Step) throws {
        let fail = failures.withLock { failures -> Bool in
            guard let remaining = failures[step] else { return false }
            if remaining <= 1 {
                failures[step] = nil
                return true
            }
            failures[step] = remaining - 1
            return false
        }
        if fail { throw InjectedFailure(step: step) }
    }

    /// Runs `body` on a copy of the state and commits the copy only when it returns.
    private func transaction<T>(_ body: (inout State) throws -> T) throws -> T {
        try reach(.begin)
        var copy = state.withLock { $0 }
        let result = try body(&copy)
        try reach(.commit)
        state.withLock { $0 = copy }
        return result
    }

    // MARK: - Inspection (for tests)

    /// Counts of what is stored: codes, families, refresh tokens, sessions, interactions.
    public var counts: (codes: Int, families: Int, tokens: Int, sessions: Int, interactions: Int) {
        state.withLock { ($0.codes.count, $0.families.count, $0.tokens.count, $0.sessions.count, $0.interactions.count) }
    }

    /// The ids of every stored family.
    public var familyIDs: [UUID] { state.withLock { Array($0.families.keys) } }

    /// Whether the family is revoked (nil when unknown).
    public func isFamilyRevoked(_ id: UUID) -> Bool? { state.withLock { $0.families[id]?.revoked } }

    /// The refresh-token generations of a family, with whether each was used.
    public func generations(of familyID: UUID) -> [(generation: Int, used: Bool)] {
        state.withLock { state in
            state.tokens.values.filter { $0.familyID == familyID }.sorted { $0.generation < $1.generation }
                .map { ($0.generation, $0.usedAt != nil) }
        }
    }

    /// The revocations as storage holds them.
    public var revocations: RevocationSet { state.withLock { $0.revoked } }

    // MARK: - Users

    /// Adds a user with a password hash.
    public func addUser(_ user: User, passwordHash: String = "") {
        state.withLock { $0.users[user.id] = (user, passwordHash) }
    }

    /// Disables or enables a user; disabling revokes the user's access tokens, as PostgreSQL storage does.
    public func setDisabled(userID: UUID, _ disabled: Bool) {
        let now = Int64(clock().timeIntervalSince1970)
        state.withLock { state in
            state.users[userID]?.user.isDisabled = disabled
            if disabled {
                state.revoked.revoke(.user(userID.uuidString.lowercased()),
                                     cutoff: .init(issuedBefore: now + 1, expiresAt: now + AccessTokenIssuer.maximumLifetime + 61))
            }
        }
    }

    public func user(id: UUID) async throws -> User? {
        try reach(.begin)
        return state.withLock { $0.users[id]?.user }
    }

    public func credentials(username: String) async throws -> (user: User, passwordHash: String)? {
        try reach(.begin)
        return state.withLock { state in state.users.values.first { $0.user.username.lowercased() == username.lowercased() } }
    }

    // MARK: - Authorization codes

    public func createCode(_ code: AuthorizationCode, digest: [UInt8]) async throws {
        try transaction { $0.codes[digest] = Code(code: code) }
    }

    public func redeemCode(_ request: CodeRedemptionRequest) async throws -> CodeRedemption {
        let now = clock()
        return try transaction { state in
            guard var stored = state.codes[request.codeDigest] else { return .notFound }
            if stored.redeemed {
                var revoked: [AccessTokenRecord] = []
                if let token = stored.accessToken {
                    state.revoked.revoke(jti: token.jti, expiresAt: Int64(token.expiresAt.timeIntervalSince1970))
                    revoked.append(token)
                }
                if let familyID = stored.familyID {
                    for token in try revokeFamily(familyID, in: &state, now: now) where !revoked.contains(token) {
                        revoked.append(token)
                    }
                }
                return .alreadyRedeemed(revoked: revoked)
            }
            if stored.code.expiresAt <= now {
                try reach(.markCodeRedeemed)
                stored.redeemed = true
                state.codes[request.codeDigest] = stored
                return .expired
            }
            var detail: String?
            if stored.code.clientID != request.clientID {
                detail = "code of client \(stored.code.clientID) presented by \(request.clientID)"
            } else if !RedirectURI.identical(stored.code.redirectURI, request.redirectURI) {
                detail = "redirect_uri differs from the authorization request"
            } else if request.verifierChallenge.map({ !$0.utf8.elementsEqual(stored.code.codeChallenge.utf8) }) ?? true {
                detail = "PKCE verification failed"
            }
            if let detail {
                try reach(.markCodeRedeemed)
                stored.redeemed = true
                state.codes[request.codeDigest] = stored
                return .rejected(detail: detail)
            }
            if let start = request.refreshFamily, RefreshFamilyStart.applies(to: stored.code.scope) {
                try reach(.createFamily)
                let code = stored.code
                state.families[start.id] = Family(family: RefreshTokenFamily(
                    id: start.id, clientID: code.clientID, userID: code.userID, scopes: code.scopes, audiences: code.audiences,
                    authTime: code.authTime, sid: code.sid, expiresAt: start.expiresAt))
                state.tokens[start.tokenDigest] = Token(familyID: start.id, generation: 1, createdAt: now,
                                                        expiresAt: min(start.tokenExpiresAt, start.expiresAt))
                try reach(.recordAccessToken)
                state.families[start.id]?.accessTokens.append(request.accessToken)
                stored.familyID = start.id
            }
            try reach(.markCodeRedeemed)
            stored.redeemed = true
            stored.accessToken = request.accessToken
            state.codes[request.codeDigest] = stored
            return .redeemed(stored.code)
        }
    }

    // MARK: - Refresh tokens

    public func rotate(_ request: RefreshRotationRequest) async throws -> RefreshRotation {
        let now = clock()
        return try transaction { state in
            guard let token = state.tokens[request.tokenDigest] else { return .invalid(detail: "unknown refresh token") }
            guard let stored = state.families[token.familyID] else { return .invalid(detail: "family deleted") }
            var family = stored.family
            family.username = state.users[family.userID]?.user.username
            // RFC 6749 §6: the token must have been issued to the authenticated client.
            guard family.clientID == request.clientID else { return .invalid(detail: "family of client \(family.clientID) presented by \(request.clientID)") }
            if stored.revoked { return .invalid(detail: "family revoked") }
            if family.expiresAt <= now { return .invalid(detail: "family past its absolute lifetime") }
            if state.users[family.userID]?.user.isDisabled ?? true { return .invalid(detail: "user disabled or deleted") }
            if let usedAt = token.usedAt {
                let successor = state.tokens.first { $0.value.familyID == token.familyID && $0.value.generation == token.generation + 1 }
                if request.grace > 0, now.timeIntervalSince(usedAt) <= request.grace, let successor, successor.value.usedAt == nil,
                   successor.key == request.successorDigest {
                    if let scope = request.requestedScope, !scope.isSubset(of: family.scope) { return .invalidScope }
                    try reach(.recordAccessToken)
                    state.families[token.familyID]?.accessTokens.append(request.accessToken)
                    return .graceRetry(family)
                }
                let revoked = try revokeFamily(token.familyID, in: &state, now: now)
                return .reuseDetected(familyID: token.familyID, revoked: revoked)
            }
            if token.expiresAt <= now { return .invalid(detail: "refresh token idle-expired") }
            if let scope = request.requestedScope, !scope.isSubset(of: family.scope) { return .invalidScope }
            try reach(.markTokenUsed)
            state.tokens[request.tokenDigest]?.usedAt = now
            try reach(.insertSuccessor)
            // A generation has one token: a family can never hold two live successors of one token.
            guard !state.tokens.values.contains(where: { $0.familyID == token.familyID && $0.generation == token.generation + 1 }) else {
                throw InjectedFailure(step: .insertSuccessor)
            }
            state.tokens[request.successorDigest] = Token(familyID: token.familyID, generation: token.generation + 1, createdAt: now,
                                                          expiresAt: min(now.addingTimeInterval(request.idleLifetime), family.expiresAt))
            try reach(.recordAccessToken)
            state.families[token.familyID]?.accessTokens.append(request.accessToken)
            return .rotated(family)
        }
    }

    private func revokeFamily(_ id: UUID, in state: inout State, now: Date) throws -> [AccessTokenRecord] {
        guard var family = state.families[id], !family.revoked else { return [] }
        try reach(.revokeFamily)
        family.revoked = true
        state.families[id] = family
        let live = family.accessTokens.filter { $0.expiresAt > now }
        for token in live { state.revoked.revoke(jti: token.jti, expiresAt: Int64(token.expiresAt.timeIntervalSince1970)) }
        return live
    }

    public func family(tokenDigest: [UInt8]) async throws -> (id: UUID, clientID: String)? {
        try reach(.begin)
        return state.withLock { state in
            guard let token = state.tokens[tokenDigest], let family = state.families[token.familyID] else { return nil }
            return (family.family.id, family.family.clientID)
        }
    }

    public func status(tokenDigest: [UInt8]) async throws -> RefreshTokenStatus? {
        try reach(.begin)
        let now = clock()
        return state.withLock { state in
            guard let token = state.tokens[tokenDigest], let stored = state.families[token.familyID] else { return nil }
            var family = stored.family
            family.username = state.users[family.userID]?.user.username
            let active = token.usedAt == nil && token.expiresAt > now && family.expiresAt > now && !stored.revoked
                && !(state.users[family.userID]?.user.isDisabled ?? true)
            return RefreshTokenStatus(family: family, issuedAt: token.createdAt, expiresAt: min(token.expiresAt, family.expiresAt), isActive: active)
        }
    }

    public func revoke(familyID: UUID, reason: String) async throws -> [AccessTokenRecord] {
        let now = clock()
        return try transaction { state in try revokeFamily(familyID, in: &state, now: now) }
    }

    public func revokeFamilies(sid: String, reason: String) async throws -> (families: Int, accessTokens: [AccessTokenRecord]) {
        let now = clock()
        return try transaction { state in
            let ids = state.families.filter { $0.value.family.sid == sid && !$0.value.revoked }.map(\.key)
            var revoked: [AccessTokenRecord] = []
            for id in ids { revoked += try revokeFamily(id, in: &state, now: now) }
            return (ids.count, revoked)
        }
    }

    // MARK: - Sessions, interactions, consent

    public func createSession(_ session: LoginSession, digest: [UInt8]) async throws {
        try transaction { $0.sessions[digest] = session }
    }

    public func session(digest: [UInt8]) async throws -> (session: LoginSession, user: User)? {
        try reach(.begin)
        let now = clock()
        return state.withLock { state in
            guard let session = state.sessions[digest], session.expiresAt > now, let user = state.users[session.userID]?.user else { return nil }
            return (session, user)
        }
    }

    public func endSession(digest: [UInt8]) async throws -> String? {
        try transaction { $0.sessions.removeValue(forKey: digest)?.sid }
    }

    public func createInteraction(digest: [UInt8], browserDigest: [UInt8], request: AuthorizationRequest, expiresAt: Date) async throws {
        try transaction { $0.interactions[digest] = StoredInteraction(browserDigest: browserDigest, request: request, expiresAt: expiresAt) }
    }

    public func interaction(digest: [UInt8]) async throws -> StoredInteraction? {
        try reach(.begin)
        let now = clock()
        return state.withLock { state in state.interactions[digest].flatMap { $0.expiresAt > now ? $0 : nil } }
    }

    public func attachLogin(interactionDigest: [UInt8], userID: UUID, sessionDigest: [UInt8]) async throws {
        try transaction { state in
            state.interactions[interactionDigest]?.userID = userID
            state.interactions[interactionDigest]?.sessionDigest = sessionDigest
        }
    }

    public func finishInteraction(digest: [UInt8]) async throws -> Bool {
        try transaction { $0.interactions.removeValue(forKey: digest) != nil }
    }

    public func consentedScope(userID: UUID, clientID: String) async throws -> Scope {
        try reach(.begin)
        return state.withLock { $0.consents["\(userID) \(clientID)"] ?? Scope([]) }
    }

    public func grantConsent(userID: UUID, clientID: String, scope: Scope) async throws {
        try transaction { state in
            let key = "\(userID) \(clientID)"
            state.consents[key] = Scope((state.consents[key]?.tokens ?? []).union(scope.tokens))
        }
    }

    // MARK: - Revocations

    public func revokeAccessToken(jti: String, expiresAt: Date, reason: String) async throws {
        try transaction { $0.revoked.revoke(jti: jti, expiresAt: Int64(expiresAt.timeIntervalSince1970)) }
    }

    public func unexpiredRevocations() async throws -> RevocationSet {
        try reach(.begin)
        let now = Int64(clock().timeIntervalSince1970)
        var fresh = RevocationSet()
        fresh.merge(state.withLock { $0.revoked }, now: now)
        return fresh
    }

    public func isAccessTokenRevoked(_ claims: AccessTokenClaims) async throws -> Bool {
        try reach(.begin)
        return state.withLock { $0.revoked.isRevoked(claims) }
    }

    // MARK: - Expiry

    public func sweep() async throws -> [String: Int]? {
        let now = clock()
        return try transaction { state in
            let codes = state.codes.count, sessions = state.sessions.count, interactions = state.interactions.count
            state.codes = state.codes.filter { $0.value.code.expiresAt > now || ($0.value.accessToken.map { $0.expiresAt > now } ?? false) }
            state.sessions = state.sessions.filter { $0.value.expiresAt > now }
            state.interactions = state.interactions.filter { $0.value.expiresAt > now }
            return ["authorization_codes": codes - state.codes.count, "login_sessions": sessions - state.sessions.count,
                    "authorization_interactions": interactions - state.interactions.count].filter { $0.value > 0 }
        }
    }
}
