import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JOSE

/// Fetches a JWK Set from a URL (an external issuer's `jwks_uri`).
protocol JWKSFetching: Sendable {
    func fetch(_ uri: String) async throws -> JWKS
}

/// Why a JWKS could not be fetched (for the operator's log).
struct JWKSFetchError: Error, CustomStringConvertible {
    let description: String
}

/// ``JWKSFetching`` over HTTP(S) with URLSession, every wait bounded: connecting and each read within
/// ``requestTimeout``, the whole transfer within ``resourceTimeout``, the body at most
/// ``maximumBodyLength``. Redirects are not followed (one could lead to a plain-http URL), and
/// nothing is cached or stored on disk.
final class URLSessionJWKSFetcher: NSObject, JWKSFetching, URLSessionTaskDelegate, @unchecked Sendable {
    /// Bounds the wait for a connection and for each part of the answer.
    static let requestTimeout: TimeInterval = 5
    /// Bounds the whole fetch, however slowly the server trickles its answer.
    static let resourceTimeout: TimeInterval = 10
    /// Bounds the memory one answer takes: real key sets are a few kilobytes.
    static let maximumBodyLength = 256 * 1024

    /// Immutable after init; URLSession is thread-safe.
    private var session: URLSession!

    override init() {
        super.init()
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = Self.requestTimeout
        configuration.timeoutIntervalForResource = Self.resourceTimeout
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        session = URLSession(configuration: configuration, delegate: self, delegateQueue: nil)
    }

    func fetch(_ uri: String) async throws -> JWKS {
        guard let url = URL(string: uri) else { throw JWKSFetchError(description: "not a URL") }
        var request = URLRequest(url: url, timeoutInterval: Self.requestTimeout)
        request.setValue("application/jwk-set+json, application/json", forHTTPHeaderField: "Accept")
        let (data, response): (Data, URLResponse) = try await withCheckedThrowingContinuation { continuation in
            let task = session.dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(throwing: JWKSFetchError(description: "\(error.localizedDescription)"))
                } else if let data, let response {
                    continuation.resume(returning: (data, response))
                } else {
                    continuation.resume(throwing: JWKSFetchError(description: "no answer"))
                }
            }
            task.resume()
        }
        guard let http = response as? HTTPURLResponse else { throw JWKSFetchError(description: "not an HTTP answer") }
        guard http.statusCode == 200 else { throw JWKSFetchError(description: "HTTP status \(http.statusCode)") }
        guard data.count <= Self.maximumBodyLength else { throw JWKSFetchError(description: "answer longer than \(Self.maximumBodyLength) bytes") }
        do {
            return try JSONDecoder().decode(JWKS.self, from: data)
        } catch {
            throw JWKSFetchError(description: "not a JWK Set")
        }
    }

    /// Redirects are refused: the answer of the registered URL itself is used, or none.
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }

    deinit {
        session?.invalidateAndCancel()
    }
}
