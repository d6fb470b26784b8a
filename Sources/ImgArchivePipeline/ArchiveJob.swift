public import Foundation
import ImgArchiveCore
import ImgArchiveStore
import Logging

/// The posts a job rewrote, in order, with how many references each: kept packed (their names' bytes one after
/// another, 8 bytes more a post), as a first run over a big site rewrites tens of thousands.
public struct RewrittenPosts: RandomAccessCollection, Sendable {
    private var posts = PackedStrings([])
    private var references: [UInt32] = []

    /// Packs `list`, in its order.
    public init(_ list: some Sequence<(post: String, references: Int)> = []) {
        for entry in list { append(post: entry.post, references: entry.references) }
    }

    /// Adds a post at the end.
    public mutating func append(post: String, references count: Int) {
        posts.append(post)
        references.append(UInt32(clamping: count))
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { references.count }

    public subscript(index: Int) -> (post: String, references: Int) {
        (posts[index], Int(references[index]))
    }
}

/// What one run of the archive job did.
public struct ArchiveJobReport: Sendable {
    /// When the run started.
    public var startedAt: Date
    /// When it ended.
    public var finishedAt: Date
    /// The fetch half: its outcomes are the failed and rescued URLs only (its counts cover all).
    public var fetch: FetchReport
    /// The rewrite half, counted.
    public var rewrite: RewriteReport.Totals
    /// The posts rewritten, in the posts' order, with how many references each.
    public var postsRewritten: RewrittenPosts
    /// The posts that failed or changed while they were being rewritten, with why.
    public var postProblems: [PostRewriteOutcome]
    /// Posts not rewritten because some of their references are not archived, with how many.
    public var postsWaiting: [String: Int]
    /// URLs that failed for the first time in this run (news worth a mail).
    public var newFailures: [URLOutcome]
    /// Archived URLs whose origin failed its revalidation: the archived copy is kept and used.
    public var originsLost: [String]
    /// Those that failed for the first time in this run.
    public var newlyLostOrigins: [URLOutcome]
    /// Posts that could not be read.
    public var unreadablePosts: Int
    /// The JSON report written in the archive's reports folder.
    public var reportPath: String?

    /// Whether anything changed or newly broke: the job prints nothing otherwise.
    public var isNews: Bool {
        fetch.counts[.archived, default: 0] > 0 || fetch.counts[.rescued, default: 0] > 0 || fetch.thumbnailsMade > 0
            || !fetch.thumbnailFailures.isEmpty
            || rewrite.counts[.rewritten, default: 0] > 0 || rewrite.counts[.failed, default: 0] > 0
            || rewrite.counts[.changedMeanwhile, default: 0] > 0 || !newFailures.isEmpty || !newlyLostOrigins.isEmpty
            || fetch.diskFull != nil
    }

    /// Failed URLs with no archived copy.
    public var failures: Int { fetch.counts[.failed, default: 0] - originsLost.count }

    /// The documented exit code: 0 every reference archived (a lost origin with an archived copy counts as
    /// archived) and every post read and written, else 1.
    public var exitCode: Int32 {
        failures > 0 || unreadablePosts > 0 || rewrite.counts[.failed, default: 0] > 0
            || !fetch.thumbnailFailures.isEmpty ? 1 : 0
    }
}

/// The unattended job: fetch what is new (and revalidate what is due), make thumbnails, and rewrite the posts
/// whose references are all archived, under one lock, with a JSON report per run.
public enum ArchiveJob {
    /// Runs the job on the posts of `site`, a chunk of `chunkSize` posts at a time: each chunk is scanned (the
    /// posts unchanged since the manifest's record of their last scan, read for the chunk, are not read or
    /// scanned again), fetched (`FetchPipeline.run(chunks:...)`: its posts recorded, the URLs no earlier chunk
    /// had fetched, their thumbnails made) and rewritten before the next is scanned, so memory does not grow
    /// with the site but for the URLs seen and what the report lists. A chunk's posts are rewritten after its
    /// fetch, when every URL they reference has been tried (in it or an earlier chunk). Throws `StoreError`
    /// (`.locked` when another run holds the archive) for set-up failures.
    static func run(
        site: SitePosts, chunkSize: Int, roots: [String], fetch: FetchSettings, rewrite: RewriteSettings,
        warn: (String) -> Void, logger: Logger, progress: (@Sendable (FetchProgress) -> Void)? = nil
    ) async throws -> ArchiveJobReport {
        let roots = roots.map { URL(fileURLWithPath: $0).standardizedFileURL.resolvingSymlinksInPath().path }
        let startedAt = Date()
        let lock = try ArchiveLock.acquire(fetch.archiveRoot)
        defer { lock.release() }
        let layout = ArchiveLayout(root: fetch.archiveRoot)
        let manifest = try await ArchiveBackend.openManifest(layout, location: fetch.manifest)
        defer { try? manifest.close() }
        // A manifest that cannot record the run's start can record nothing else: the run stops here.
        let runID = try await manifest.startRun(command: "archive", at: startedAt)

        // A post is rewritten only when every remote reference in it is archived (with its file present),
        // as the manifest says after its chunk's fetch; the others wait, so an outage never leaves a post half
        // local.
        var rewriteSettings = rewrite
        rewriteSettings.requireComplete = true
        var rewriting = try await RewritePipeline.RewriteRun.open(
            settings: rewriteSettings, lock: lock, logger: logger)
        defer { rewriting.close() }
        var rewriteTotals = RewriteReport.Totals()
        var postsRewritten = RewrittenPosts()
        var postProblems: [PostRewriteOutcome] = []
        var waiting: [String: Int] = [:]

        var unreadable = site.unlisted
        // Whether a post's bytes differ from the manifest's record before this run (else no snapshot is needed).
        var postsChanged = false
        var ranges = site.chunks(of: chunkSize).makeIterator()
        // Revalidation covers every archived URL, also those of posts already rewritten (no longer remote): a
        // last chunk of every archived URL, of which the run fetches those no chunk of posts had.
        var revalidation = fetch.revalidateAll || fetch.revalidateAfter != nil
        let fetchReport = try await FetchPipeline.run(
            chunks: {
                guard let range = ranges.next() else {
                    guard revalidation else { return nil }
                    revalidation = false
                    let items = try await manifest.allURLRecords().filter { $0.status == .archived }.map {
                        FetchItem(url: $0.url, origin: $0.archivedFrom ?? $0.url)
                    }
                    return FetchPipeline.Chunk(items: items, posts: [])
                }
                // The manifest's record of the chunk's posts' last scans, held while the chunk is scanned.
                let known = try await KnownScans.read(manifest, layout: layout, posts: Array(site.files[range]))
                let (posts, failed) = site.scan(range, known: known, warn: warn)
                unreadable += failed
                if !postsChanged {
                    postsChanged = zip(layout.postKeys(of: posts), posts).contains { key, post in
                        known.scans[key]?.contentSHA256 != post.contentSHA256
                    }
                }
                return FetchPipeline.Chunk(
                    items: FetchItem.items(from: SiteScan.references(of: posts)), posts: posts)
            }, settings: fetch, logger: logger, progress: progress, holding: lock,
            keeping: { $0.status == .failed || $0.status == .rescued },
            each: { chunk, _ in
                guard !chunk.posts.isEmpty else { return }
                let outcomes = try await rewriting.rewrite(chunk.posts).posts
                rewriteTotals.add(outcomes)
                for p in outcomes {
                    switch p.status {
                    case .rewritten: postsRewritten.append(post: p.post, references: p.rewrites.count)
                    case .failed, .changedMeanwhile: postProblems.append(p)
                    case .waiting: waiting[p.post] = p.leftRemote.count
                    default: break
                    }
                }
            })
        rewriting.close()

        // A failed URL that is still archived lost its origin (revalidation failed): the copy is kept and
        // posts keep using it; news once, not a failure.
        let failed = fetchReport.outcomes.filter { $0.status == .failed }
        let records = try await manifest.urlRecords(failed.map(\.url))
        func isNew(_ outcome: URLOutcome) -> Bool {
            guard let since = records[outcome.url]?.failingSince else { return false }
            return since >= startedAt.addingTimeInterval(-0.002)  // the manifest keeps milliseconds
        }
        let lost = failed.filter { records[$0.url]?.status == .archived }
        let newFailures = failed.filter { records[$0.url]?.status != .archived && isNew($0) }
        let newlyLost = lost.filter(isNew)

        // Posts deleted from the site are forgotten, unless the manifest holds their rewrites (for revert); the
        // posts this run recorded are on disk, so reading the posts now (a chunk at a time) finds the same. A post
        // whose file the rewrite took was there: only the others are looked for on disk. Its file is the archive's
        // folder and its name, when that path is standardised (a name with `..` is not; nor one through a link).
        let base = layout.postBase
        var removed = 0
        var after: String?
        while true {
            let paths = try await manifest.postPaths(after: after, limit: chunkSize)
            guard let last = paths.last else { break }
            after = last
            for path in paths where !rewriting.took(file: base + "/" + path) {
                let file = layout.postPath(path)
                if !FileManager.default.fileExists(atPath: file),
                    roots.contains(where: { file == $0 || file.hasPrefix($0 + "/") }),
                    try await manifest.rewriteGenerations(post: path).isEmpty
                {
                    try await manifest.removePost(path)
                    removed += 1
                }
            }
        }

        var report = ArchiveJobReport(
            startedAt: startedAt, finishedAt: Date(), fetch: fetchReport, rewrite: rewriteTotals,
            postsRewritten: postsRewritten, postProblems: postProblems, postsWaiting: waiting,
            newFailures: newFailures, originsLost: lost.map(\.url), newlyLostOrigins: newlyLost,
            unreadablePosts: unreadable)
        do {
            report.reportPath = try writeReport(report, layout: layout)
        } catch {
            logger.warning("the run's report could not be written", metadata: ["error": "\(error)"])
        }
        try await manifest.finishRun(
            id: runID, at: report.finishedAt, counts: counts(report), exitCode: Int(report.exitCode))
        // A snapshot per run that changed the manifest (the newest `ManifestBackups.kept`), so a lost manifest
        // can be restored; a run that only found everything as it was adds nothing a restore would miss.
        do {
            // A database has its own backups (pg_dump, docs/scale-out.md).
            if let manifest = manifest as? SQLiteManifest {
                let backups = ManifestBackups(layout: layout)
                let firstSnapshot = try backups.list().isEmpty
                if postsChanged || removed > 0 || changedManifest(report) || firstSnapshot {
                    try await backups.snapshot(of: manifest)
                }
            }
        } catch {
            logger.warning("the manifest snapshot could not be written", metadata: ["error": "\(error)"])
        }
        return report
    }

    /// Whether the run's fetch or rewrite recorded anything: an image archived, revalidated or failed, a
    /// thumbnail made or failed, a post rewritten or left pending.
    static func changedManifest(_ r: ArchiveJobReport) -> Bool {
        r.fetch.counts.contains { $0.key != .alreadyArchived && $0.key != .notAnImageLink && $0.value > 0 }
            || r.fetch.thumbnailsMade > 0 || !r.fetch.thumbnailFailures.isEmpty || r.fetch.diskFull != nil
            || r.rewrite.counts.contains { $0.key != .unchanged && $0.key != .waiting && $0.value > 0 }
    }

    static func counts(_ r: ArchiveJobReport) -> [String: Int] {
        let f = r.fetch.counts
        return [
            "archived": f[.archived, default: 0], "already_archived": f[.alreadyArchived, default: 0],
            "not_modified": f[.notModified, default: 0], "failed": f[.failed, default: 0],
            "rescued": f[.rescued, default: 0],
            "new_failures": r.newFailures.count, "origins_lost": r.originsLost.count,
            "thumbnails": r.fetch.thumbnailsMade,
            "thumbnail_failures": r.fetch.thumbnailFailures.count,
            "posts_rewritten": r.rewrite.counts[.rewritten, default: 0],
            "references_rewritten": r.rewrite.referencesRewritten, "posts_waiting": r.postsWaiting.count,
            "posts_changed_meanwhile": r.rewrite.counts[.changedMeanwhile, default: 0],
            "posts_failed": r.rewrite.counts[.failed, default: 0], "posts_unreadable": r.unreadablePosts,
        ]
    }

    /// Writes `reports/<UTC time>-archive.json` (temporary file, then rename) and returns its path. The posts
    /// rewritten (one entry each: a first run over a big site has tens of thousands) are written into the file as
    /// `JSONSerialization` would print them, a buffer at a time, not made into one object with the rest: that
    /// object and its printing were most of the job's peak memory.
    static func writeReport(_ r: ArchiveJobReport, layout: ArchiveLayout) throws -> String {
        let stamp = DateFormatter()
        stamp.locale = Locale(identifier: "en_US_POSIX")
        stamp.timeZone = TimeZone(identifier: "UTC")
        stamp.dateFormat = "yyyyMMdd'T'HHmmss.SSS'Z'"
        // The rest of the report, its list of rewritten posts empty: the list goes in where the empty one is.
        let data = try JSONSerialization.data(
            withJSONObject: reportObject(r, rewritten: []), options: [.prettyPrinted, .sortedKeys])
        let empty = Array("\n  \"rewritten\" : [\n\n  ]".utf8)
        guard let at = [UInt8](data).firstRange(of: empty) else {
            throw StoreError(code: .invalidArgument, message: "the report has no list of rewritten posts")
        }
        let folder = layout.reportsDirectory
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let final = folder.appendingPathComponent("\(stamp.string(from: r.startedAt))-archive.json")
        let temporary = layout.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString).json")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw StoreError(code: .io, path: temporary.path, message: "the report cannot be created")
        }
        let file = try FileHandle(forWritingTo: temporary)
        do {
            var buffer = [UInt8](data[data.startIndex..<data.startIndex + at.lowerBound])
            buffer += "\n  \"rewritten\" : [\n".utf8
            for (i, p) in r.postsRewritten.enumerated() {
                buffer += (i == 0 ? "" : ",\n").utf8
                buffer += "    {\n      \"post\" : ".utf8
                try appendJSONString(p.post, to: &buffer)
                buffer += ",\n      \"references\" : \(p.references)\n    }".utf8
                if buffer.count >= 1 << 16 {
                    try file.write(contentsOf: buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            buffer += "\n  ]".utf8
            buffer += data[(data.startIndex + at.upperBound)...]
            try file.write(contentsOf: buffer)
            try file.close()
        } catch {
            try? file.close()
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        try FileManager.default.moveItem(at: temporary, to: final)
        return final.path
    }

    /// The report as one object for `JSONSerialization`, with `rewritten` as its list of rewritten posts.
    static func reportObject(_ r: ArchiveJobReport, rewritten: [[String: Any]]) -> [String: Any] {
        let time = ISO8601DateFormatter()
        time.formatOptions = [.withInternetDateTime]
        let failures: [[String: Any]] = r.fetch.outcomes.filter { $0.status == .failed }.map { o in
            [
                "url": o.url, "post": o.post ?? NSNull(), "class": (o.errorClass ?? .other).rawValue,
                "http_status": o.httpStatus ?? NSNull(), "message": o.message ?? "",
                "new": r.newFailures.contains { $0.url == o.url } || r.newlyLostOrigins.contains { $0.url == o.url },
                "archived_copy_kept": r.originsLost.contains(o.url),
            ]
        }
        let problems: [[String: Any]] = r.postProblems.map {
            ["post": $0.post, "status": $0.status.rawValue, "message": $0.message ?? ""]
        }
        return [
            "command": "archive", "started_at": time.string(from: r.startedAt),
            "finished_at": time.string(from: r.finishedAt), "exit_code": Int(r.exitCode), "counts": counts(r),
            "failures": failures, "rewritten": rewritten, "waiting": r.postsWaiting, "post_problems": problems,
            "thumbnail_failures": r.fetch.thumbnailFailures.map(\.description),
            "rescued": r.fetch.outcomes.compactMap(RescueOutput.reportEntry),
        ]
    }

    /// `string` as `JSONSerialization` prints it: printable ASCII as it is but `"`, `\\` and `/` escaped with a
    /// backslash; any other string is printed by `JSONSerialization` itself.
    static func appendJSONString(_ string: String, to out: inout [UInt8]) throws {
        let utf8 = string.utf8
        if utf8.allSatisfy({ (0x20...0x7E).contains($0) }) {
            out.append(UInt8(ascii: "\""))
            for byte in utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "/") {
                    out.append(UInt8(ascii: "\\"))
                }
                out.append(byte)
            }
            out.append(UInt8(ascii: "\""))
            return
        }
        // `["..."]`: the string between the brackets.
        let array = [UInt8](try JSONSerialization.data(withJSONObject: [string]))
        out += array[1..<(array.count - 1)]
    }
}
