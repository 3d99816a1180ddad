/// The parameters of a token-endpoint request (RFC 6749 §3.2), decoded strictly.
public struct TokenRequest: Sendable, Equatable {
    /// Every single-valued parameter, by name (client authentication reads these too).
    public let parameters: [String: String]
    /// RFC 8707 §2: "the resource parameter ... can be used multiple times".
    public let resources: [String]

    /// Parameters that may appear more than once.
    static let repeatable: Set<String> = ["resource"]

    /// Decodes an `application/x-www-form-urlencoded` body. A repeated parameter is
    /// `invalid_request` (RFC 6749 §3.2: "Request and response parameters MUST NOT be
    /// included more than once"), except `resource`; an empty value counts as absent
    /// (RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were
    /// omitted from the request").
    public init(body: [UInt8]) throws(OAuthError) {
        let pairs: [(name: String, value: String)]
        do {
            pairs = try FormURLEncoded.pairs(body)
        } catch {
            throw OAuthError.invalidRequest(Self.describe(error))
        }
        var parameters: [String: String] = [:]
        var seen = Set<String>()
        var resources: [String] = []
        for (name, value) in pairs {
            if Self.repeatable.contains(name) {
                if !value.isEmpty { resources.append(value) }
                continue
            }
            guard seen.insert(name).inserted else {
                throw OAuthError.invalidRequest("The \(Self.printable(name)) parameter is repeated.")
            }
            if !value.isEmpty { parameters[name] = value }
        }
        self.parameters = parameters
        self.resources = resources
    }

    public subscript(name: String) -> String? { parameters[name] }

    public static func describe(_ error: FormURLEncoded.DecodingError) -> String {
        switch error {
        case .malformedEscape: return "The request body has a malformed percent-escape."
        case .invalidUTF8: return "The request body is not valid UTF-8."
        case .nulCharacter: return "The request contains a NUL character."
        case .repeatedParameter(let name): return "The \(printable(name)) parameter is repeated."
        case .tooManyParameters: return "The request has too many parameters."
        }
    }

    /// A parameter name safe to echo in `error_description` (RFC 6749 §5.2's character set).
    public static func printable(_ name: String) -> String {
        let safe = name.unicodeScalars.prefix(40).allSatisfy { scalar in
            let v = scalar.value
            return (0x30...0x39).contains(v) || (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v) || v == 0x5F || v == 0x2D
        }
        return safe && !name.isEmpty ? String(name.prefix(40)) : "a"
    }
}
