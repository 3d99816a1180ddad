import JOSE

/// What storage keeps of a secret a browser or client holds (an authorization code, a refresh
/// token, a session cookie, an interaction id): its SHA-256, never the secret itself (fosite's
/// "signature"). Nothing stored can be replayed.
public enum TokenDigest {
    public static func of(_ secret: String) -> [UInt8] { SHA256.hash(Array(secret.utf8)) }
}
