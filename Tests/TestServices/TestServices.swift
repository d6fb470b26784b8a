import Foundation
import ImgArchiveStore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The engines the scale-out tests run against: PostgreSQL and an S3 server on loopback, started by the
/// project's own script (`.ci/services up`, one script per engine in `.ci/services.d/`). `.ci/run` starts them
/// and exports their settings before `swift test`; when a developer runs `swift test` without them, the first
/// test that needs them starts them here, once per test process, puts their settings in this process's
/// environment (so the imgarchive processes the tests run inherit them) and stops them when the process exits.
public enum TestServices {
    /// The settings the engines' scripts print, one of which says whether they are up.
    private static let required = ["PG_URL", "S3_ENDPOINT", "S3_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]

    /// Why the engines could not be started, or nil once they are up (started here at most once).
    private static let failure: String? = start()

    /// Makes sure the engines run and their settings are in this process's environment; throws, saying what
    /// failed and where its log is, when they cannot be started.
    public static func ensureRunning() throws {
        if let failure { throw ServicesUnavailable(description: failure) }
    }

    /// A new, empty database on the tests' PostgreSQL server, as a `postgres://` URL.
    public static func postgresDatabase() async throws -> String {
        try ensureRunning()
        guard let server = ProcessInfo.processInfo.environment["PG_URL"], !server.isEmpty else {
            throw ServicesUnavailable(description: "PG_URL is empty")
        }
        return try await PostgresManifest.makeDatabaseForTesting(server: server)
    }

    private static func start() -> String? {
        let environment = ProcessInfo.processInfo.environment
        if required.allSatisfy({ environment[$0]?.isEmpty == false }) { return nil }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imgarchive-test-services-\(getpid())"
        ).path
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let settings = folder + "/settings", log = folder + "/services.log"
        // Engines of this process's own, in its folder: a set already running (a developer's, another test
        // process's, in the script's default folder) is neither reused nor stopped at exit.
        setenv("IMGARCHIVE_SERVICES_DIR", folder + "/engines", 1)
        // system(3), not Process: the servers outlive the script, and Foundation's Process would wait for them.
        let status = system("bash '\(servicesScript)' up >'\(settings)' 2>'\(log)'")
        atexit { _ = system("bash '\(servicesScript)' down >/dev/null 2>&1") }
        guard status == 0, let text = try? String(contentsOfFile: settings, encoding: .utf8) else {
            return "`bash .ci/services up` failed (exit \(status)); its log: \(log)"
        }
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            setenv(String(line[..<equals]), String(line[line.index(after: equals)...]), 1)
        }
        let now = ProcessInfo.processInfo.environment
        let missing = required.filter { now[$0]?.isEmpty != false }
        return missing.isEmpty
            ? nil : "`bash .ci/services up` did not print \(missing.joined(separator: ", ")); see \(log)"
    }

    /// Why the tests' engines are not there.
    public struct ServicesUnavailable: Error, CustomStringConvertible {
        public var description: String
    }
}

/// `.ci/services` of this checkout.
private let servicesScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".ci/services").path
