import ArgumentParser
import Foundation
import ImgArchiveCore

/// Finds and reads the configuration file for a command.
enum ConfigurationLoader {
    /// The default file name, looked for in the current folder.
    static let defaultName = "imgarchive.yml"

    /// Reads `explicitPath`, or `imgarchive.yml` in the current folder when it exists, else the defaults.
    static func load(explicitPath: String?) throws -> ConfigFile {
        if let explicitPath {
            guard FileManager.default.fileExists(atPath: explicitPath) else {
                throw ValidationError("\(explicitPath): no such configuration file; check --config")
            }
            return try ConfigFile.load(path: explicitPath)
        }
        guard FileManager.default.fileExists(atPath: defaultName) else { return ConfigFile() }
        return try ConfigFile.load(path: defaultName)
    }
}
