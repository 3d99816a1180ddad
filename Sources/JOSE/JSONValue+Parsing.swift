/// Why a JSON text was refused by ``JSONValue/init(parsing:)``.
public struct JSONParsingError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

extension JSONValue {
    /// Parses a complete JSON text with the strict parser JWS headers use.
    ///
    /// For JWT claims sets from untrusted parties: RFC 7519 §4 says "JWT parsers MUST either reject JWTs
    /// with duplicate Claim Names or use a JSON parser that returns only the lexically last duplicate
    /// member name"; this parser rejects duplicates, invalid UTF-8, lone surrogates and trailing data.
    public init(parsing bytes: [UInt8]) throws(JSONParsingError) {
        do {
            self = try JSONParser.parse(bytes)
        } catch {
            throw JSONParsingError(message: error.message)
        }
    }
}
