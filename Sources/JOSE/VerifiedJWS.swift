/// A JWS whose signature has been verified.
public struct VerifiedJWS: Sendable {
    public let header: JOSEHeader
    /// The payload bytes, exactly as signed; JWS does not interpret them.
    public let payload: [UInt8]
    /// The key whose signature verified.
    public let key: VerificationKey
}
