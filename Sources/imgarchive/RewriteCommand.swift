import ArgumentParser
import Foundation
import ImgArchiveCore
import ImgArchivePipeline
import ImgArchiveStore

/// How rewritten posts link the archive (shared by `rewrite` and the archive job).
struct LinkOptionGroup: ParsableArguments {
    enum Style: String, ExpressibleByArgument, CaseIterable {
        case absolute, relative
    }

    @Option(
        help: """
            absolute: /archive/... under the site's base path (the default in a Jekyll, Hexo or Hugo site); \
            relative: from each post's folder (the default elsewhere; for editors such as Typora or Obsidian).
            """)
    var links: Style?

    @Option(name: .customLong("archive-url"), help: "Link the archive under this URL or path prefix instead.")
    var archiveURL: String?

    /// Command line over configuration over the site's own configuration (`LinkPolicy`); files in a bucket are
    /// linked under the bucket's URL unless an archive URL says otherwise.
    func linker(_ file: ConfigFile, site: SiteInfo?, archiveRoot: URL, objects: ObjectStoreFactory) throws
        -> ArchiveLinker
    {
        let choice = (links?.rawValue ?? file.links).flatMap(LinkPolicy.Choice.init(rawValue:))
        return try LinkPolicy.linker(
            archiveURL: archiveURL ?? file.archiveURL, choice: choice, site: site, archiveRoot: archiveRoot,
            storeURL: objects.publicURL)
    }
}

struct RewriteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rewrite",
        abstract: "Point posts at the archived copies of their images.",
        discussion: """
            Replaces exactly the bytes of each archived image URL with a link to the archive: the thumbnail \
            at the width the post shows when there is one, else the original. A URL wrapped across lines \
            becomes one line. Nothing else in the post changes. Each post is replaced atomically, and the \
            manifest keeps the original bytes: --revert puts them back. Exit codes: 0 every remote reference \
            now local, 1 some left remote or some posts failed, 2 usage or set-up error, 75 another run holds \
            the archive.
            """)

    @Argument(help: "Posts or folders (default: the current folder).")
    var paths: [String] = []

    @Option(help: "The archive folder (default: ./archive, or 'archive' in the configuration).")
    var archive: String?

    @OptionGroup var linkOptions: LinkOptionGroup

    @Flag(name: .customLong("dry-run"), help: "Print a unified diff of each change; write nothing.")
    var dryRun = false

    @Flag(help: "Put back the original bytes of every reference imgarchive rewrote in these posts.")
    var revert = false

    @Option(help: "Output format: text, or one JSON object per post plus a summary (json).")
    var format: OutputFormat = .text

    @Option(help: "The configuration file (default: imgarchive.yml in the current folder, if present).")
    var config: String?

    @Option(help: ManifestOption.help)
    var manifest: String?

    func run() async throws {
        let file = try ConfigurationLoader.load(explicitPath: config)
        let roots = paths.isEmpty ? ["."] : paths
        let archiveRoot = URL(fileURLWithPath: archive ?? file.archive ?? "archive")
        let site = SiteInfo.discover(from: roots.first ?? ".")
        // Revert needs no links; a rewrite checks them before touching anything.
        let objects = try ObjectStoreFactory.configured(
            objects: file.objects, endpoint: file.s3Endpoint, region: file.s3Region)
        let linker =
            revert
            ? ArchiveLinker(style: .relative(archiveRoot: archiveRoot.path))
            : try linkOptions.linker(file, site: site, archiveRoot: archiveRoot, objects: objects)
        var settings = RewriteSettings(
            archiveRoot: archiveRoot, linker: linker, scanner: PostScanner(options: file.scanOptions))
        settings.objectStore = objects
        settings.dryRun = dryRun
        settings.manifest = try ManifestOption.location(manifest, file)
        // Printed a chunk of posts at a time, as the rewrite or revert hands them out; the summary from the totals.
        let format = format
        if revert {
            let totals = try await Pipeline.revert(paths: paths, settings: settings, logger: ProcessLogger.logger) {
                RewriteOutput.print(posts: $0, format: format)
            }
            RewriteOutput.print(summary: totals, format: format, dryRun: dryRun, reverting: true)
            if totals.counts[.failed, default: 0] + totals.counts[.changedMeanwhile, default: 0]
                + totals.counts[.missing, default: 0] + totals.postsWithLinksNotFound > 0
            {
                throw ExitCode(1)
            }
            return
        }
        let (totals, unreadable) = try await Pipeline.rewrite(
            roots: roots, settings: settings, warn: Diagnostics.warn, logger: ProcessLogger.logger
        ) { RewriteOutput.print(posts: $0, format: format) }
        RewriteOutput.print(summary: totals, format: format, dryRun: dryRun, reverting: false)
        if unreadable > 0 || totals.leftRemoteByKind.values.reduce(0, +) > 0
            || totals.counts[.failed, default: 0] + totals.counts[.changedMeanwhile, default: 0] > 0
        {
            throw ExitCode(1)
        }
    }
}

/// The rewrite and revert summaries.
enum RewriteOutput {
    /// The lines of `posts`: a JSON object each, or their diffs, messages and references left remote.
    static func print(posts: [PostRewriteOutcome], format: OutputFormat) {
        var out = StandardOutput()
        for post in posts {
            if format == .json {
                out.write { json(post, to: &$0) }
                continue
            }
            if let diff = post.diff { out.write { $0 += diff } }
            if let message = post.message { out.write("\(post.status == .failed ? "failed" : "note"): \(message)\n") }
            for left in post.leftRemote {
                out.write(
                    "left remote: \(post.post):\(left.reference.line): \(left.reference.url)\n    \(left.reason)\n")
            }
        }
        out.flush()
    }

    /// The summary line (text) or object (JSON) of a run's totals.
    static func print(summary totals: RewriteReport.Totals, format: OutputFormat, dryRun: Bool, reverting: Bool) {
        var out = StandardOutput()
        let counts = totals.counts
        let changed = counts[reverting ? .reverted : .rewritten, default: 0]
        if format == .json {
            var s = "{\"summary\":{\"posts_changed\":\(changed),\"references_\(reverting ? "reverted" : "rewritten")\":"
            s += "\(reverting ? totals.referencesReverted : totals.referencesRewritten)"
            s += ",\"posts_unchanged\":\(counts[.unchanged, default: 0])"
            s += ",\"posts_changed_meanwhile\":\(counts[.changedMeanwhile, default: 0])"
            s += ",\"posts_failed\":\(counts[.failed, default: 0]),\"left_remote\":{"
            s += totals.leftRemoteByKind.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }
                .joined(separator: ",")
            s += "},\"dry_run\":\(dryRun)}}\n"
            out.write(s)
            out.flush()
            return
        }
        let verb = dryRun ? "would be " : ""
        var line: String
        if reverting {
            line = "posts \(verb)reverted \(changed), references \(verb)put back \(totals.referencesReverted)"
            if totals.posts == 0 { line = "nothing to revert: the manifest records no rewrite of these posts" }
        } else if changed == 0 && totals.leftRemoteByKind.isEmpty && counts[.failed] == nil
            && counts[.changedMeanwhile] == nil
        {
            line = "nothing to rewrite: every post already points at the archive (\(totals.posts) posts)"
        } else {
            line =
                (changed == 0 && !dryRun ? "nothing changed: " : "")
                + "posts \(verb)changed \(changed), references \(verb)rewritten \(totals.referencesRewritten)"
            let left = totals.leftRemoteByKind
            let total = left.values.reduce(0, +)
            line += ", left remote \(total)"
            if total > 0 {
                line +=
                    " (" + left.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"
            }
        }
        if let n = counts[.changedMeanwhile] { line += "; changed meanwhile \(n)" }
        if let n = counts[.failed] { line += "; failed \(n)" }
        if dryRun { line += "; dry run: nothing was written" }
        out.write(line + "\n")
        out.flush()
    }

    static func json(_ p: PostRewriteOutcome, to out: inout [UInt8]) {
        out += "{\"post\":".utf8
        ReferenceJSON.quote(p.post, to: &out)
        out += ",\"status\":\"\(p.status.rawValue)\",\"rewritten\":[".utf8
        for (i, r) in p.rewrites.enumerated() {
            if i > 0 { out += ",".utf8 }
            out += "{\"line\":\(r.reference.line),\"url\":".utf8
            ReferenceJSON.quote(r.reference.url, to: &out)
            out += ",\"link\":".utf8
            ReferenceJSON.quote(r.replacement, to: &out)
            out += "}".utf8
        }
        out += "],\"reverted\":\(p.reverted),\"not_found\":[".utf8
        for (i, url) in p.notFound.enumerated() {
            if i > 0 { out += ",".utf8 }
            ReferenceJSON.quote(url, to: &out)
        }
        out += "],\"left_remote\":[".utf8
        for (i, l) in p.leftRemote.enumerated() {
            if i > 0 { out += ",".utf8 }
            out += "{\"line\":\(l.reference.line),\"url\":".utf8
            ReferenceJSON.quote(l.reference.url, to: &out)
            out += ",\"why\":\"\(l.kind)\",\"message\":".utf8
            ReferenceJSON.quote(l.reason, to: &out)
            out += "}".utf8
        }
        out += "],\"message\":".utf8
        if let m = p.message { ReferenceJSON.quote(m, to: &out) } else { out += "null".utf8 }
        out += "}\n".utf8
    }
}
