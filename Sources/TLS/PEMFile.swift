import Foundation

/// Reads the PEM files TLS is configured with.
enum PEMFile {
    /// Bounds what one configured file may make the server read into memory. A certificate chain or key is a
    /// few KiB; a large public CA bundle is a few hundred KiB.
    static let maximumSize = 4 * 1024 * 1024

    static func read(_ path: String, as input: TLSConfigurationError.Input) throws(TLSConfigurationError) -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TLSConfigurationError(input, path: path, "no such file")
        }
        guard !isDirectory.boolValue else { throw TLSConfigurationError(input, path: path, "is a directory, not a PEM file") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw TLSConfigurationError(input, path: path, "cannot be read (permission denied?)")
        }
        defer { try? handle.close() }
        let data: Data?
        do {
            data = try handle.read(upToCount: maximumSize + 1)
        } catch {
            throw TLSConfigurationError(input, path: path, "cannot be read: \(error.localizedDescription)")
        }
        let bytes = data.map { Array($0) } ?? []
        guard bytes.count <= maximumSize else { throw TLSConfigurationError(input, path: path, "larger than \(maximumSize) bytes") }
        guard !bytes.isEmpty else { throw TLSConfigurationError(input, path: path, "is empty") }
        return bytes
    }
}
