/// The protected header of a verified JWS.
public struct JOSEHeader: Sendable {
    /// The `alg` member; always the verifying key's algorithm once verified.
    public let alg: String
    /// The `kid` member, if present.
    public let kid: String?
    /// The `typ` member, if present; callers check it against what they expect (RFC 8725 §3.11).
    public let typ: String?
    /// Every member of the header, including the three above.
    public let raw: [String: JSONValue]

    public init(alg: String, kid: String?, typ: String?, raw: [String: JSONValue]) {
        self.alg = alg
        self.kid = kid
        self.typ = typ
        self.raw = raw
    }
}
