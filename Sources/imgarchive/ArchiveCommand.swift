import ArgumentParser
import Foundation
import ImgArchiveCore
import ImgArchivePipeline
import ImgArchiveStore

struct ArchiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "The scheduled job: fetch new images, make thumbnails, rewrite the posts, report.",
        discussion: """
            Made for cron and systemd timers. Scans the posts, fetches only what is not archived yet (and \
            revalidates what 'revalidate-after' says is due), makes thumbnails, and rewrites each post whose \
            remote references are all archived. Writes a JSON report to archive/reports/ and records the run \
            in the manifest. Prints nothing when nothing changed and nothing newly broke, so cron mails only \
            news. Exit codes: 0 every reference archived; 1 some references failed or some posts could not be \
            read or written; 2 usage or set-up error; 75 another run holds the archive (try again later).
            """)

    @Argument(help: "Posts or folders (default: the current folder).")
    var paths: [String] = []

    @OptionGroup var options: FetchOptionGroup

    @OptionGroup var linkOptions: LinkOptionGroup

    @Flag(name: .customLong("verbose"), help: "Print the summary even when nothing changed.")
    var verbose = false

    func run() async throws {
        let file = try ConfigurationLoader.load(explicitPath: options.config)
        let roots = paths.isEmpty ? ["."] : paths
        let site = SiteInfo.discover(from: roots.first ?? ".")
        let fetch = try options.settings(file, site: site)
        let linker = try linkOptions.linker(
            file, site: site, archiveRoot: fetch.archiveRoot, objects: fetch.objectStore)
        let report = try await Self.runJob(
            roots: roots, file: file, fetch: fetch, linker: linker, verbose: verbose)
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }

    /// Runs the job and prints its news; shared with `imgarchive demo`.
    static func runJob(roots: [String], file: ConfigFile, fetch: FetchSettings, linker: ArchiveLinker, verbose: Bool)
        async throws -> ArchiveJobReport
    {
        // A progress bar when run by hand on a terminal; cron and systemd see none.
        let bar = ProgressBar.ifTerminal()
        var progress: (@Sendable (FetchProgress) -> Void)?
        if let bar { progress = { bar.show($0) } }
        let report = try await Pipeline.archive(
            roots: roots, scanOptions: file.scanOptions, fetch: fetch, linker: linker, warn: Diagnostics.warn,
            logger: ProcessLogger.logger, progress: progress)
        bar?.finish()
        if verbose || report.isNews { print(report) }
        return report
    }

    private static func print(_ r: ArchiveJobReport) {
        var out = StandardOutput()
        for o in r.newFailures {
            out.write("new failure \(o.errorClass?.rawValue ?? "?"): \(o.url)\n")
            if let post = o.post { out.write("    in \(post)\n") }
            if let m = o.message { out.write("    \(m)\n") }
        }
        for o in r.newlyLostOrigins {
            out.write("origin gone, archived copy kept: \(o.url)\n")
            if let m = o.message { out.write("    \(m)\n") }
        }
        for failure in r.fetch.thumbnailFailures { out.write("thumbnail failed: \(failure)\n") }
        for p in r.postsRewritten {
            out.write("rewrote \(p.post) (\(p.references) reference\(p.references == 1 ? "" : "s"))\n")
        }
        for p in r.postProblems { out.write("not rewritten: \(p.message ?? p.post)\n") }
        for (post, n) in r.postsWaiting.sorted(by: { $0.key < $1.key }) {
            out.write("waiting: \(post) (\(n) reference\(n == 1 ? "" : "s") not archived; see imgarchive status)\n")
        }
        if let full = r.fetch.diskFull { out.write("stopped: \(full)\n") }
        if let warc = r.fetch.warc { out.write(FetchOutput.warcLine(warc)) }
        let f = r.fetch.counts
        var line = "archived \(f[.archived, default: 0]), already had \(f[.alreadyArchived, default: 0])"
        if let n = f[.notModified] { line += ", unchanged \(n)" }
        if let n = f[.rescued] { line += ", rescued from web archives \(n)" }
        line += ", failed \(r.failures)"
        if !r.originsLost.isEmpty { line += ", origins gone (copies kept) \(r.originsLost.count)" }
        if !r.fetch.failuresByClass.isEmpty {
            line +=
                " ("
                + r.fetch.failuresByClass.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key) \($0.value)" }
                .joined(separator: ", ") + ")"
        }
        line += "; thumbnails \(r.fetch.thumbnailsMade); posts rewritten \(r.rewrite.counts[.rewritten, default: 0])"
        line += " (\(r.rewrite.referencesRewritten) references)"
        if !r.postsWaiting.isEmpty { line += ", waiting \(r.postsWaiting.count)" }
        if let path = r.reportPath { line += "\nreport: \(path)" }
        out.write(line + "\n")
        out.flush()
    }
}
