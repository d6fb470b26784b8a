import ArgumentParser
import Foundation
import ImgArchiveCore

/// The options a command takes from `imgarchive.yml`.
struct Configuration {
    var scanOptions = ScanOptions()

    /// Reads `explicitPath`, or `imgarchive.yml` in the current folder when it exists.
    static func load(explicitPath: String?) throws -> Configuration {
        let path = explicitPath ?? "imgarchive.yml"
        guard FileManager.default.fileExists(atPath: path) else {
            if let explicitPath { throw ValidationError("\(explicitPath): no such configuration file") }
            return Configuration()
        }
        return Configuration()
    }
}
