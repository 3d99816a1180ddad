import JOSE

/// Client credentials from an `Authorization: Basic` header (RFC 6749 §2.3.1, RFC 7617).
///
/// RFC 6749 §2.3.1: "The client identifier is encoded using the
/// application/x-www-form-urlencoded encoding algorithm ..., and the encoded value is
/// used as the username; the client password is encoded using the same algorithm and
/// used as the password." So both halves are form-urldecoded after base64.
public struct BasicCredentials: Sendable, Equatable {
    public let clientID: String
    public let secret: String

    /// Bounds the header we decode; a real client id and secret are far shorter.
    public static let maxEncodedLength = 4_096

    /// Parses the header value; nil when the scheme is not Basic. Malformed credentials
    /// throw `invalid_client`.
    public static func parse(authorization value: String) throws(OAuthError) -> BasicCredentials? {
        let trimmed = value.drop { $0 == " " }
        guard let space = trimmed.firstIndex(of: " ") else {
            if trimmed.lowercased() == "basic" { throw malformed }
            return nil
        }
        // RFC 9110 §11.1: the auth-scheme is case-insensitive.
        guard trimmed[..<space].lowercased() == "basic" else { return nil }
        let encoded = trimmed[space...].drop { $0 == " " }
        guard !encoded.isEmpty, encoded.utf8.count <= maxEncodedLength, !encoded.contains(" ") else { throw malformed }
        guard let decoded = standardBase64Decode(Array(encoded.utf8)),
              let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else { throw malformed }
        do {
            let id = try FormURLEncoded.decode(decoded[..<colon])
            let secret = try FormURLEncoded.decode(decoded[(colon + 1)...])
            guard !id.isEmpty else { throw malformed }
            return BasicCredentials(clientID: id, secret: secret)
        } catch {
            throw malformed
        }
    }

    /// Credentials in the header that do not decode are a failed client authentication:
    /// RFC 6749 §5.2: "If the client attempted to authenticate via the "Authorization" request
    /// header field, the authorization server MUST respond with an HTTP 401 (Unauthorized)".
    static let malformed = OAuthError(.invalidClient, ClientAuthenticator.failureDescription,
                                      detail: "the Authorization header is not valid Basic client credentials", isRedirectable: false)

    /// Standard base64 (RFC 4648 §4) with padding, as Basic uses.
    static func standardBase64Decode(_ input: [UInt8]) -> [UInt8]? {
        guard input.count % 4 == 0 else { return nil }
        var text = ""
        text.reserveCapacity(input.count)
        var padding = 0
        for (i, byte) in input.enumerated() {
            switch byte {
            case UInt8(ascii: "+"): text += "-"
            case UInt8(ascii: "/"): text += "_"
            case UInt8(ascii: "="):
                guard i >= input.count - 2 else { return nil }
                padding += 1
            default:
                guard padding == 0 else { return nil }
                text.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return Base64URL.decode(text)
    }
}
