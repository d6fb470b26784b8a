import ArgumentParser
import Foundation
import ImgArchiveCore
import ImgArchivePipeline
import ImgArchiveStore

/// `imgarchive verify [--repair]`: re-hashes the archive's files; optionally restores them.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Re-hash every archived original and thumbnail and check the manifest; --repair restores them.",
        discussion: """
            Without --repair nothing changes and no lock is taken. With --repair (under the archive's lock) \
            a missing or corrupt original is fetched again from the URL it was archived from and kept only \
            when its bytes hash to the same SHA-256; a missing or corrupt thumbnail is rebuilt from its \
            original. Corrupt files are moved to archive/quarantine/<time>/, never deleted. The download \
            options (--connect-to, --timeout, --retries, --max-bytes, --quality, ...) apply to --repair. \
            Exit codes: 0 all intact (or all repaired), 1 something missing, corrupt or not repaired, \
            2 usage or set-up error (no archive yet), 75 another run holds the archive (--repair).
            """)

    @OptionGroup var options: FetchOptionGroup

    @Flag(help: "Fetch missing or corrupt originals again and rebuild thumbnails.")
    var repair = false

    @Option(help: "Output format: one line per problem and a summary (text), or JSON lines (json).")
    var format: OutputFormat = .text

    func validate() throws {
        if options.revalidate { throw ValidationError("--revalidate belongs to fetch; verify re-hashes files only") }
    }

    func run() async throws {
        let file = try ConfigurationLoader.load(explicitPath: options.config)
        let settings = try options.settings(file, site: SiteInfo.discover(from: "."))
        let report = try await Pipeline.verify(settings: settings, repair: repair, logger: ProcessLogger.logger)
        VerifyOutput.print(report, format: format, repairing: repair)
        if report.hasUnresolvedProblems { throw ExitCode(1) }
    }
}

/// The verify report as text or JSON lines.
enum VerifyOutput {
    static func print(_ report: VerificationReport, format: OutputFormat, repairing: Bool) {
        var out = StandardOutput()
        for p in report.problems {
            if format == .json { out.write { json(p, to: &$0) } } else { out.write(text(p)) }
        }
        let missing = report.problems.filter { $0.damage == .missing }.count
        let corrupt = report.problems.filter { $0.damage == .corrupt }.count
        let unrecorded = report.problems.filter { $0.damage == .unrecorded }.count
        let repaired = report.problems.filter {
            switch $0.repair {
            case .repaired?, .adopted?, .removed?: return true
            default: return false
            }
        }.count
        if format == .json {
            var s = "{\"summary\":{\"objects\":\(report.objectsChecked),\"thumbnails\":\(report.thumbnailsChecked)"
            s += ",\"missing\":\(missing),\"corrupt\":\(corrupt),\"unrecorded\":\(unrecorded)"
            if repairing { s += ",\"repaired\":\(repaired)" }
            if report.manifestRestored {
                s += ",\"manifestRestoredFrom\":"
                if let from = report.manifestRestoredFrom {
                    var quoted: [UInt8] = []
                    ReferenceJSON.quote(from, to: &quoted)
                    s += String(decoding: quoted, as: UTF8.self)
                } else {
                    s += "null"
                }
            }
            s += ",\"manifestIntact\":\(report.manifestIntact)}}\n"
            out.write(s)
        } else {
            if report.manifestRestored {
                out.write(
                    report.manifestRestoredFrom.map {
                        "manifest: it was missing, empty or unreadable; restored from \($0) (the old file, if any, "
                            + "is in quarantine/); what the archive holds beyond that snapshot is adopted below\n"
                    }
                        ?? ("manifest: it was missing, empty or unreadable and no snapshot in backups/ could be used; "
                            + "a new manifest was started and the archive's files are adopted below (their URLs and "
                            + "the posts' rewrite records are not known again until the next fetch)\n"))
            }
            if !report.manifestIntact {
                out.write(
                    "manifest: SQLite's integrity check failed; copy the archive aside and restore manifest.sqlite "
                        + "from a backup (or rebuild it with sqlite3's .recover)\n")
            }
            var line = "checked \(report.objectsChecked) originals and \(report.thumbnailsChecked) thumbnails: "
            line += "\(missing) missing, \(corrupt) corrupt, \(unrecorded) unrecorded"
            if repairing { line += ", \(repaired) repaired" }
            line += report.manifestIntact ? "; manifest intact" : "; manifest damaged"
            if !repairing && missing + corrupt + unrecorded > 0 { line += "; run imgarchive verify --repair" }
            out.write(line + "\n")
        }
        out.flush()
    }

    static func text(_ p: ArchiveProblem) -> String {
        var s = "\(p.damage.rawValue) \(p.kind == .object ? "original" : "thumbnail") \(p.path)\n"
        if p.kind == .thumbnail, let width = p.width {
            s += "    \(width) px of \(p.objectPath ?? "an original the manifest no longer lists")\n"
        }
        if let actual = p.actualSHA256 { s += "    hashes to \(actual), not \(p.expectedSHA256)\n" }
        for url in p.urls { s += "    from \(url)\n" }
        switch p.repair {
        case .repaired(let from, let quarantined)?:
            s += "    repaired" + (from.map { " from \($0)" } ?? "") + "\n"
            if let quarantined { s += "    the corrupt file was moved to \(quarantined)\n" }
        case .adopted?:
            s += "    adopted: its bytes match its name; the manifest records it now\n"
        case .removed(let quarantined, let why)?:
            s += "    moved to \(quarantined): \(why)\n"
        case .failed(let why)?:
            s += "    not repaired: \(why)\n"
        case nil:
            break
        }
        return s
    }

    static func json(_ p: ArchiveProblem, to out: inout [UInt8]) {
        func field(_ name: String, _ value: String?) { ReferenceJSON.field(name, value, to: &out) }
        out += "{\"file\":".utf8
        ReferenceJSON.quote(p.path, to: &out)
        field("kind", p.kind.rawValue)
        field("problem", p.damage.rawValue)
        field("expectedSHA256", p.expectedSHA256)
        field("actualSHA256", p.actualSHA256)
        out += ",\"width\":\(p.width.map(String.init) ?? "null")".utf8
        field("objectPath", p.objectPath)
        out += ",\"urls\":[".utf8
        for (i, url) in p.urls.enumerated() {
            if i > 0 { out += ",".utf8 }
            ReferenceJSON.quote(url, to: &out)
        }
        out += "]".utf8
        switch p.repair {
        case .repaired(let from, let quarantined)?:
            field("repair", "repaired")
            field("repairedFrom", from)
            field("quarantined", quarantined)
        case .adopted?:
            field("repair", "adopted")
        case .removed(let quarantined, let why)?:
            field("repair", "removed")
            field("quarantined", quarantined)
            field("repairMessage", why)
        case .failed(let why)?:
            field("repair", "failed")
            field("repairMessage", why)
        case nil:
            break
        }
        out += "}\n".utf8
    }
}
