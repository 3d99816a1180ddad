import JOSE

/// Proof Key for Code Exchange (RFC 7636), `S256` only: `plain` is refused for every client.
public enum PKCE {
    /// The only method accepted.
    public static let method = "S256"

    /// Checks the `code_challenge` and `code_challenge_method` of an authorization request.
    public static func validateChallenge(_ challenge: String?, method: String?) throws(OAuthError) -> String {
        guard let challenge else {
            throw OAuthError.invalidRequest("code_challenge is required (PKCE with S256).")
        }
        // RFC 7636 §4.3: "Defaults to "plain" if not present in the request." Tessera takes S256 only.
        guard method == Self.method else {
            throw OAuthError.invalidRequest("code_challenge_method must be S256.")
        }
        // RFC 7636 §4.2: the S256 challenge is BASE64URL(SHA256(verifier)): 43 characters.
        guard challenge.utf8.count == 43, Base64URL.decode(challenge)?.count == 32 else {
            throw OAuthError.invalidRequest("code_challenge is not an S256 challenge.")
        }
        return challenge
    }

    /// RFC 7636 §4.1: code-verifier = 43*128unreserved, unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~".
    public static func isWellFormedVerifier(_ verifier: String) -> Bool {
        let bytes = verifier.utf8
        guard (43...128).contains(bytes.count) else { return false }
        return bytes.allSatisfy { byte in
            (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte)
                || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
        }
    }

    /// RFC 7636 §4.6: "If the values are equal, the token endpoint MUST continue processing as
    /// normal ... If the values are not equal, an error response indicating "invalid_grant"
    /// ... MUST be returned." Compared in constant time.
    public static func verify(verifier: String, challenge: String) -> Bool {
        guard isWellFormedVerifier(verifier) else { return false }
        return constantTimeEquals(Array(Self.challenge(of: verifier).utf8), Array(challenge.utf8))
    }

    /// RFC 7636 §4.2: the S256 challenge of `verifier`, `BASE64URL(SHA256(ASCII(code_verifier)))`.
    public static func challenge(of verifier: String) -> String {
        Base64URL.encode(SHA256.hash(Array(verifier.utf8)))
    }
}
