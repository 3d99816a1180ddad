import HTTPServer

extension HTTPRequest {
    /// Whether the body is `application/x-www-form-urlencoded` (case-insensitively, with optional
    /// parameters such as a charset): the only body the OAuth endpoints and the forms accept.
    var hasFormBody: Bool {
        guard let contentType = headers["Content-Type"] else { return false }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return mediaType == "application/x-www-form-urlencoded"
    }
}
