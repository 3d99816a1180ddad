/// What the token endpoint received that bears on client authentication (RFC 6749 §2.3).
public struct ClientAuthenticationRequest: Sendable {
    /// The `Authorization` header value, if any; schemes other than Basic are ignored.
    public var authorization: String?
    /// The form parameters (`client_id`, `client_secret`, `client_assertion`, `client_assertion_type`, …).
    public var parameters: [String: String]
    /// The peer's IP address, for throttling failures per source.
    public var sourceAddress: String

    public init(authorization: String?, parameters: [String: String], sourceAddress: String) {
        self.authorization = authorization
        self.parameters = parameters
        self.sourceAddress = sourceAddress
    }
}

/// A client whose credentials were verified, and how.
public struct AuthenticatedClient: Sendable {
    public let client: Client
    /// The method the request used; always the client's registered `authMethod`.
    public let method: Client.AuthMethod

    public init(client: Client, method: Client.AuthMethod) {
        self.client = client
        self.method = method
    }
}
