import Foundation

/// Finds the folder of SQL migrations.
public enum MigrationsDirectory {
    public static let variable = "TESSERA_MIGRATIONS_DIR"

    /// The explicit folder if given, else `$TESSERA_MIGRATIONS_DIR`, else `./Migrations`,
    /// else a `Migrations` folder above the executable (a source checkout's `.build/...`),
    /// else `/usr/share/tessera/Migrations` (the container image).
    public static func locate(explicit: String?, environment: [String: String]) throws(ConfigurationError) -> String {
        let fileManager = FileManager.default
        if let chosen = explicit ?? environment[variable].flatMap({ $0.isEmpty ? nil : $0 }) {
            var isDirectory: ObjCBool = false
            guard fileManager.fileExists(atPath: chosen, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ConfigurationError(setting: variable, message: "names no folder (got \"\(chosen)\")")
            }
            return chosen
        }
        var candidates = [fileManager.currentDirectoryPath + "/Migrations"]
        var folder = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(folder.appendingPathComponent("Migrations").path)
            folder = folder.deletingLastPathComponent()
        }
        candidates.append("/usr/share/tessera/Migrations")
        for candidate in candidates {
            var isDirectory: ObjCBool = false
            if fileManager.fileExists(atPath: candidate, isDirectory: &isDirectory), isDirectory.boolValue {
                return candidate
            }
        }
        throw ConfigurationError(setting: variable, message: "not set and no Migrations folder found (looked in \(candidates.joined(separator: ", ")))")
    }
}
