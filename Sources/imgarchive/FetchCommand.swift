import ArgumentParser
import Foundation
import ImgArchiveCore
import ImgArchiveFetch
import ImgArchiveImage
import ImgArchivePipeline
import ImgArchiveStore
import Logging

/// Options shared by the commands that fetch (`fetch`, and the archive job).
struct FetchOptionGroup: ParsableArguments {
    @Option(help: "The archive folder (default: ./archive, or 'archive' in the configuration).")
    var archive: String?

    @Option(help: "Transfers at once (default 16).")
    var jobs: Int?

    @Option(name: .customLong("per-host"), help: "Connections per host at once (default 4).")
    var perHost: Int?

    @Option(help: "Retries after a timeout, connection error, 408, 429 or 5xx (default 3).")
    var retries: Int?

    @Option(help: "Seconds one request may take in all (default 120).")
    var timeout: Int?

    @Option(name: .customLong("max-bytes"), help: "Largest image accepted, e.g. 50MB (default 50MB).")
    var maxBytes: String?

    @Flag(help: "Re-check every archived URL with a conditional GET.")
    var revalidate = false

    @Flag(help: "Also write WARC records of each image exchange into archive/warc/ (docs/web-archives.md).")
    var warc = false

    @Option(
        name: .customLong("connect-to"),
        help: "HOST:PORT:ADDR:PORT: fetch HOST:PORT's URLs from ADDR:PORT instead (repeatable).")
    var connectTo: [String] = []

    @Option(help: "JPEG quality of thumbnails, 1-100 (default 85).")
    var quality: Int?

    @Option(help: "The configuration file (default: imgarchive.yml in the current folder, if present).")
    var config: String?

    @Flag(
        inversion: .prefixedNo,
        help: "Ask web archives (Memento) for images dead on the web: 404, 410, gone host, not an image (default on).")
    var rescue: Bool?

    @Option(
        name: .customLong("timegate"),
        help: "A Memento TimeGate to ask (repeatable; replaces the list; default https://web.archive.org/web/).")
    var timegates: [String] = []

    @Option(help: ManifestOption.help)
    var manifest: String?

    /// Command line over configuration over defaults.
    func settings(_ file: ConfigFile, site: SiteInfo?) throws -> FetchSettings {
        let archive = self.archive ?? file.archive ?? "archive"
        var download = DownloadOptions(userAgent: DownloadOptions.userAgent(version: ImgArchiveVersion.current))
        download.jobs = try Self.check(jobs ?? file.jobs ?? download.jobs, "--jobs", 1...256)
        download.perHost = try Self.check(perHost ?? file.perHost ?? download.perHost, "--per-host", 1...64)
        download.retries = try Self.check(retries ?? file.retries ?? download.retries, "--retries", 0...20)
        if let t = timeout ?? file.timeout {
            download.totalTimeout = .seconds(try Self.check(t, "--timeout", 1...3600))
        }
        if let text = maxBytes {
            guard let n = ConfigFile.parseByteSize(text) else {
                throw ValidationError("--max-bytes \(text): write a size such as 50MB or 512KiB")
            }
            download.maxBytes = n
        } else if let n = file.maxBytes {
            download.maxBytes = n
        }
        if let ua = file.userAgent { download.userAgent = ua }
        download.connectTo = file.connectTo + connectTo
        for entry in download.connectTo where entry.split(separator: ":", omittingEmptySubsequences: false).count != 4 {
            throw ValidationError(
                "--connect-to \(entry): write HOST:PORT:ADDR:PORT, e.g. cdn.example.com:80:127.0.0.1:8080")
        }
        // The address guard is always on; these, and the --connect-to targets, are its only openings.
        download.allowAddresses = file.allowAddresses
        var settings = FetchSettings(archiveRoot: URL(fileURLWithPath: archive), download: download)
        settings.revalidateAll = revalidate
        settings.revalidateAfter = file.revalidateAfter
        settings.siteURL = file.siteURL ?? site?.url
        settings.hostProfiles = file.hostProfiles
        settings.manifest = try ManifestOption.location(manifest, file)
        var thumbnails = ThumbnailOptions()
        thumbnails.quality = try Self.check(quality ?? file.quality ?? thumbnails.quality, "--quality", 1...100)
        if let m = file.maxPixels { thumbnails.maxPixels = m }
        if let m = file.thumbnailMemory { thumbnails.memoryBudget = Int(m) }
        settings.thumbnails = thumbnails
        if warc || file.warc == true {
            settings.warc = WARCOptions(maxFileSize: file.warcSize ?? WARCOptions.defaultMaxFileSize)
        }
        settings.rescue = try rescueSettings(file)
        settings.objectStore = try ObjectStoreFactory.configured(
            objects: file.objects, endpoint: file.s3Endpoint, region: file.s3Region)
        return settings
    }

    /// The rescue settings: `--rescue/--no-rescue` over `rescue:`, `--timegate` over `timegates:` (on by default).
    private func rescueSettings(_ file: ConfigFile) throws -> RescueSettings? {
        guard rescue ?? file.rescue ?? true else { return nil }
        var settings = RescueSettings()
        if !timegates.isEmpty {
            settings.timegates = try timegates.map { text in
                guard let gate = Memento.normalizedTimeGate(text) else {
                    throw ValidationError(
                        "--timegate \(text): write an http or https URL, such as https://web.archive.org/web/")
                }
                return gate
            }
        } else if let gates = file.timegates {
            settings.timegates = gates
        }
        if let after = file.rescueAfter { settings.rescueAfter = after }
        return settings.timegates.isEmpty ? nil : settings
    }

    private static func check(_ value: Int, _ name: String, _ range: ClosedRange<Int>) throws -> Int {
        guard range.contains(value) else {
            throw ValidationError(
                "\(name) \(value): use a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}

/// `--manifest` (or `manifest:`): where the manifest lives.
enum ManifestOption {
    static let help: ArgumentHelp = """
        The manifest: sqlite (archive/manifest.sqlite, the default) or a PostgreSQL database shared by many \
        workers, postgres://user@host:port/db (password from PGPASSWORD or ~/.pgpass; docs/scale-out.md).
        """

    /// The command line's value over the configuration's.
    static func location(_ flag: String?, _ file: ConfigFile) throws -> ManifestLocation {
        guard let text = flag ?? file.manifest else { return .archiveFolder }
        do {
            return try ManifestLocation(parsing: text)
        } catch {
            throw ValidationError("--\(error.message)")
        }
    }
}

struct FetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Mirror the images posts reference into the archive.",
        discussion: """
            Scans the posts, then downloads each remote image not yet archived: the original behind a CDN \
            resize URL first, then the URL as written. Images are checked by their bytes, stored once by \
            SHA-256 under archive/objects/, recorded in archive/manifest.sqlite, and thumbnails are made at \
            the widths the posts show. Exit codes: 0 every reference archived, 1 some failed, 2 usage or \
            set-up error, 75 another run holds the archive.
            """)

    @Argument(help: "Posts or folders to scan (default: the current folder, unless --urls is given).")
    var paths: [String] = []

    @OptionGroup var options: FetchOptionGroup

    @Option(help: "Also mirror the image URLs listed in this file, one per line.")
    var urls: String?

    @Flag(name: .customLong("dry-run"), help: "Show what would be fetched; change nothing.")
    var dryRun = false

    @Option(help: "Output format: a summary (text) or one JSON object per URL plus a summary (json).")
    var format: OutputFormat = .text

    func run() async throws {
        let file = try ConfigurationLoader.load(explicitPath: options.config)
        let roots = paths.isEmpty && urls == nil ? ["."] : paths
        let site = SiteInfo.discover(from: roots.first ?? ".")
        let settings = try options.settings(file, site: site)
        let archiveLinks = (file.archiveURL ?? settings.objectStore.publicURL).map { ArchiveLinker(style: .prefix($0)) }

        if dryRun {
            let planned = try await Pipeline.planFetch(
                roots: roots, urlList: urls, scanOptions: file.scanOptions, archiveLinks: archiveLinks,
                settings: settings, warn: Diagnostics.warn)
            var out = StandardOutput()
            for o in planned {
                if format == .json {
                    out.write { FetchOutput.json(o, to: &$0) }
                } else if o.status == .planned {
                    out.write("would fetch \(o.url)\n    \(o.message ?? "")\n")
                }
            }
            out.flush()
            let count = planned.filter { $0.status == .planned }.count
            Diagnostics.note("\(count) of \(planned.count) URLs would be fetched; nothing was changed")
            return
        }

        let bar = ProgressBar.ifTerminal()
        var progress: (@Sendable (FetchProgress) -> Void)?
        if let bar { progress = { bar.show($0) } }
        // A JSON line per URL as each chunk of the site is done; the text summary lists only failed and rescued
        // URLs, which the report keeps.
        let format = format
        let (report, unreadable) = try await Pipeline.fetch(
            roots: roots, urlList: urls, scanOptions: file.scanOptions, archiveLinks: archiveLinks,
            settings: settings, warn: Diagnostics.warn, logger: ProcessLogger.logger, progress: progress
        ) { outcomes in if format == .json { FetchOutput.print(outcomes: outcomes) } }
        bar?.finish()
        FetchOutput.print(summary: report, format: format)
        if report.counts[.failed, default: 0] > 0 || unreadable > 0 { throw ExitCode(1) }
    }
}

/// The fetch summary and per-URL lines.
enum FetchOutput {
    /// A JSON line per outcome.
    static func print(outcomes: [URLOutcome]) {
        var out = StandardOutput()
        for o in outcomes { out.write { json(o, to: &$0) } }
        out.flush()
    }

    /// The summary: in JSON its object; in text the failed and rescued URLs of `report.outcomes`, the
    /// thumbnails that failed and the counts.
    static func print(summary report: FetchReport, format: OutputFormat) {
        var out = StandardOutput()
        let counts = report.counts
        if format == .json {
            var s = "{\"summary\":{\"archived\":\(counts[.archived, default: 0])"
            s += ",\"already_archived\":\(counts[.alreadyArchived, default: 0])"
            s += ",\"not_modified\":\(counts[.notModified, default: 0]),\"failed\":\(counts[.failed, default: 0])"
            s += ",\"rescued\":\(counts[.rescued, default: 0])"
            s += ",\"thumbnails\":\(report.thumbnailsMade),\"thumbnail_failures\":["
            var failures: [UInt8] = []
            for (i, failure) in report.thumbnailFailures.enumerated() {
                if i > 0 { failures += ",".utf8 }
                ReferenceJSON.quote(failure.description, to: &failures)
            }
            s += String(decoding: failures, as: UTF8.self) + "],\"failed_by_class\":{"
            s += report.failuresByClass.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\"\($0.key)\":\($0.value)" }
                .joined(separator: ",")
            s += "}"
            if let full = report.diskFull {
                var quoted: [UInt8] = []
                ReferenceJSON.quote(full, to: &quoted)
                s += ",\"disk_full\":" + String(decoding: quoted, as: UTF8.self)
            }
            if let warc = report.warc {
                s += ",\"warc_records\":\(warc.records)"
                if let problem = warc.problem {
                    var quoted: [UInt8] = []
                    ReferenceJSON.quote(problem, to: &quoted)
                    s += ",\"warc_problem\":" + String(decoding: quoted, as: UTF8.self)
                }
            }
            s += "}}\n"
            out.write(s)
        } else {
            // A full disk is said once below, not once per URL it stopped.
            for o in report.outcomes
            where o.status == .failed && (report.diskFull == nil || o.message != report.diskFull) {
                out.write("failed \(o.errorClass?.rawValue ?? "?"): \(o.url)\n")
                if let post = o.post { out.write("    in \(post)\n") }
                if let m = o.message { out.write("    \(m)\n") }
            }
            // Rescued images apart: their bytes came from a web archive, not from the web.
            for o in report.outcomes where o.status == .rescued {
                out.write("rescued: \(o.url)\n")
                if let post = o.post { out.write("    in \(post)\n") }
                if let r = o.rescue { out.write("    from \(r.memento)" + RescueOutput.captured(r) + "\n") }
            }
            for failure in report.thumbnailFailures { out.write("thumbnail failed: \(failure)\n") }
            var line = "archived \(counts[.archived, default: 0]), already had \(counts[.alreadyArchived, default: 0])"
            if let n = counts[.notModified] { line += ", unchanged \(n)" }
            if let n = counts[.rescued] { line += ", rescued from web archives \(n)" }
            line += ", failed \(counts[.failed, default: 0])"
            if !report.failuresByClass.isEmpty {
                line +=
                    " ("
                    + report.failuresByClass.sorted { $0.key.rawValue < $1.key.rawValue }.map {
                        "\($0.key) \($0.value)"
                    }
                    .joined(separator: ", ") + ")"
            }
            line += "; thumbnails made \(report.thumbnailsMade)"
            if let full = report.diskFull { line = "stopped: \(full)\n" + line }
            out.write(line + "\n")
            if let warc = report.warc { out.write(warcLine(warc)) }
        }
        out.flush()
    }

    /// The WARC line of a run that wrote WARC records.
    static func warcLine(_ warc: WARCSummary) -> String {
        var line =
            "warc: \(warc.records) record\(warc.records == 1 ? "" : "s") written to the archive's warc/ folder (index: warc/index.cdxj)\n"
        if let problem = warc.problem { line += "warc: \(problem)\n" }
        return line
    }

    static func json(_ o: URLOutcome, to out: inout [UInt8]) {
        func field(_ name: String, _ value: String?) { ReferenceJSON.field(name, value, to: &out) }
        out += "{\"url\":".utf8
        ReferenceJSON.quote(o.url, to: &out)
        field("status", o.status.rawValue)
        field("archived_from", o.archivedFrom)
        field("object", o.objectPath)
        field("error_class", o.errorClass?.rawValue)
        field("message", o.message)
        out += ",\"http_status\":\(o.httpStatus.map(String.init) ?? "null")".utf8
        field("post", o.post)
        field("timegate", o.rescue?.timegate)
        field("memento", o.rescue?.memento)
        field("memento_datetime", o.rescue?.capturedAt?.formatted(.iso8601))
        out += "}\n".utf8
    }
}

/// One line on standard error, redrawn: done/total, bytes, rate, failures. Only on a terminal.
final class ProgressBar: @unchecked Sendable {
    private let start = Date()
    private let lock = NSLock()
    private var lastDraw = Date.distantPast

    static func ifTerminal() -> ProgressBar? { isatty(STDERR_FILENO) == 1 ? ProgressBar() : nil }

    func show(_ p: FetchProgress) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) > 0.1 || p.done == p.total else { return }
        lastDraw = now
        let rate = Double(p.bytes) / max(now.timeIntervalSince(start), 0.001) / 1e6
        let width = 30
        let filled = p.total > 0 ? width * p.done / p.total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let text = String(
            format: "\r[%@] %d/%d  %.1f MB  %.1f MB/s  %d failed ", bar, p.done, p.total, Double(p.bytes) / 1e6, rate,
            p.failed)
        FileHandle.standardError.write(Data(text.utf8))
    }

    func finish() { FileHandle.standardError.write(Data("\n".utf8)) }
}

/// The process's logger: warnings and errors on standard error (libraries log at info or below).
enum ProcessLogger {
    static let logger: Logger = {
        var l = Logger(label: "imgarchive")
        l.logLevel =
            ProcessInfo.processInfo.environment["IMGARCHIVE_LOG"].flatMap { Logger.Level(rawValue: $0) } ?? .warning
        return l
    }()
}
