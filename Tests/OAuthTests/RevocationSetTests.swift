import Testing
@testable import OAuth

@Suite struct RevocationSetTests {
    static func claims(jti: String = "j", client: String = "svc", subject: String = "svc", issuedAt: Int64 = 1_000) -> AccessTokenClaims {
        AccessTokenClaims(issuer: "https://as.example", subject: subject, audience: ["https://api.example"], clientID: client,
                          scope: Scope(["read"]), issuedAt: issuedAt, expiresAt: issuedAt + 600, jwtID: jti)
    }

    @Test("A revoked jti is revoked; others are not")
    func byTokenID() {
        var set = RevocationSet()
        set.revoke(jti: "j", expiresAt: 2_000)
        #expect(set.isRevoked(Self.claims(jti: "j")))
        #expect(!set.isRevoked(Self.claims(jti: "k")))
    }

    @Test("A disabled client's tokens up to the cut-off are revoked, later ones are not, other clients untouched")
    func byClient() {
        var set = RevocationSet()
        set.revoke(.client("svc"), cutoff: .init(issuedBefore: 1_000, expiresAt: 90_000))
        #expect(set.isRevoked(Self.claims(issuedAt: 999)))
        #expect(set.isRevoked(Self.claims(issuedAt: 1_000)))
        #expect(!set.isRevoked(Self.claims(issuedAt: 1_001)), "issued after the client was enabled again")
        #expect(!set.isRevoked(Self.claims(client: "other", subject: "other", issuedAt: 10)))
        // A user's token issued through that client is revoked with it.
        #expect(set.isRevoked(Self.claims(client: "svc", subject: "5d1c8f0e-1111-4222-8333-444455556666", issuedAt: 900)))
    }

    @Test("A disabled user's tokens are revoked whichever client they were issued to")
    func byUser() {
        var set = RevocationSet()
        let subject = "5d1c8f0e-1111-4222-8333-444455556666"
        set.revoke(.user(subject), cutoff: .init(issuedBefore: 1_000, expiresAt: 90_000))
        #expect(set.isRevoked(Self.claims(client: "web", subject: subject, issuedAt: 1_000)))
        #expect(set.isRevoked(Self.claims(client: "mobile", subject: subject, issuedAt: 10)))
        #expect(!set.isRevoked(Self.claims(client: "web", subject: subject, issuedAt: 1_001)))
    }

    @Test("Announcements: a jti, or a client or user with its cut-off; a later cut-off wins, garbage changes nothing")
    func announcements() {
        var set = RevocationSet()
        set.apply(announcement: "abc_-", now: 100, assumedLifetime: 86_460)
        set.apply(announcement: RevocationSet.announcement(.client("a b"), issuedBefore: 500), now: 100, assumedLifetime: 86_460)
        set.apply(announcement: RevocationSet.announcement(.user("u-1"), issuedBefore: 700), now: 100, assumedLifetime: 86_460)
        set.apply(announcement: RevocationSet.announcement(.user("u-1"), issuedBefore: 600), now: 100, assumedLifetime: 86_460)
        #expect(set.tokens["abc_-"] == 86_560)
        #expect(set.clients["a b"]?.issuedBefore == 500, "the id is everything after the cut-off, spaces included")
        #expect(set.subjects["u-1"]?.issuedBefore == 700, "an older announcement does not move the cut-off back")
        let before = set
        for garbage in ["", "client x y", "group 5 x", "client 5 ", "a b"] {
            set.apply(announcement: garbage, now: 100, assumedLifetime: 86_460)
        }
        #expect(set == before)
    }

    @Test("A reload keeps what was heard while it ran, without the expired, and the stored expiry wins")
    func merging() {
        var loaded = RevocationSet()
        loaded.revoke(jti: "stored", expiresAt: 500)
        var heard = RevocationSet()
        heard.revoke(jti: "stored", expiresAt: 99_999)
        heard.revoke(jti: "new", expiresAt: 600)
        heard.revoke(jti: "old", expiresAt: 50)
        heard.revoke(.client("c"), cutoff: .init(issuedBefore: 90, expiresAt: 1_000))
        loaded.merge(heard, now: 100)
        #expect(loaded.tokens == ["stored": 500, "new": 600])
        #expect(loaded.clients["c"]?.issuedBefore == 90)
    }
}
