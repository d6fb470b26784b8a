public import Foundation
public import ImgArchiveCore
import ImgArchiveStore
public import Logging

/// What one run of the archive job did.
public struct ArchiveJobReport: Sendable {
    /// When the run started.
    public var startedAt: Date
    /// When it ended.
    public var finishedAt: Date
    /// The fetch half.
    public var fetch: FetchReport
    /// The rewrite half.
    public var rewrite: RewriteReport
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
    /// Runs the job. Throws `StoreError` (`.locked` when another run holds the archive) for set-up failures.
    public static func run(
        items: [FetchItem], posts: [ScannedPost], unreadablePosts: Int, roots: [String], fetch: FetchSettings,
        rewrite: RewriteSettings, logger: Logger, progress: (@Sendable (FetchProgress) -> Void)? = nil
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

        // The posts as recorded before this run: for the removal of deleted posts below, and to tell whether the
        // run changed what the manifest knows of them (else no snapshot is needed).
        let recorded = try await manifest.posts()

        // Revalidation covers every archived URL, also those of posts already rewritten (no longer remote).
        var items = items
        if fetch.revalidateAll || fetch.revalidateAfter != nil {
            let known = Set(items.map(\.url))
            for record in try await manifest.allURLRecords()
            where record.status == .archived && !known.contains(record.url) {
                items.append(FetchItem(url: record.url, origin: record.archivedFrom ?? record.url))
            }
        }
        let fetchReport = try await FetchPipeline.run(
            items: items, posts: posts, settings: fetch, logger: logger, progress: progress, holding: lock)

        // A post is rewritten only when every remote reference in it is archived (with its file present),
        // as the manifest says after this run; the others wait, so an outage never leaves a post half local.
        var rewriteSettings = rewrite
        rewriteSettings.requireComplete = true
        let rewriteReport = try await RewritePipeline.rewrite(
            posts: posts, settings: rewriteSettings, lock: lock, logger: logger)
        var waiting: [String: Int] = [:]
        for p in rewriteReport.posts where p.status == .waiting { waiting[p.post] = p.leftRemote.count }

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

        // Posts deleted from the site are forgotten, unless the manifest holds their rewrites (for revert).
        let rewritten = Set(try await manifest.rewrittenPosts())
        var removed = 0
        for post in recorded where !rewritten.contains(post.path) {
            let file = layout.postPath(post.path)
            if !FileManager.default.fileExists(atPath: file),
                roots.contains(where: { file == $0 || file.hasPrefix($0 + "/") })
            {
                try await manifest.removePost(post.path)
                removed += 1
            }
        }

        var report = ArchiveJobReport(
            startedAt: startedAt, finishedAt: Date(), fetch: fetchReport, rewrite: rewriteReport,
            postsWaiting: waiting, newFailures: newFailures, originsLost: lost.map(\.url),
            newlyLostOrigins: newlyLost, unreadablePosts: unreadablePosts)
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
                let scans = Dictionary(recorded.map { ($0.path, $0.contentSHA256) }, uniquingKeysWith: { a, _ in a })
                let keys = layout.postKeys(posts.map(\.path))
                let postsChanged = zip(keys, posts).contains { key, post in scans[key] != post.contentSHA256 }
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
        r.fetch.outcomes.contains { $0.status != .alreadyArchived && $0.status != .notAnImageLink }
            || r.fetch.thumbnailsMade > 0 || !r.fetch.thumbnailFailures.isEmpty || r.fetch.diskFull != nil
            || r.rewrite.posts.contains { $0.status != .unchanged && $0.status != .waiting }
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

    /// Writes `reports/<UTC time>-archive.json` (temporary file, then rename) and returns its path.
    static func writeReport(_ r: ArchiveJobReport, layout: ArchiveLayout) throws -> String {
        let time = ISO8601DateFormatter()
        time.formatOptions = [.withInternetDateTime]
        let stamp = DateFormatter()
        stamp.locale = Locale(identifier: "en_US_POSIX")
        stamp.timeZone = TimeZone(identifier: "UTC")
        stamp.dateFormat = "yyyyMMdd'T'HHmmss.SSS'Z'"
        let failures: [[String: Any]] = r.fetch.outcomes.filter { $0.status == .failed }.map { o in
            [
                "url": o.url, "post": o.post ?? NSNull(), "class": (o.errorClass ?? .other).rawValue,
                "http_status": o.httpStatus ?? NSNull(), "message": o.message ?? "",
                "new": r.newFailures.contains { $0.url == o.url } || r.newlyLostOrigins.contains { $0.url == o.url },
                "archived_copy_kept": r.originsLost.contains(o.url),
            ]
        }
        let rewritten: [[String: Any]] = r.rewrite.posts.filter { $0.status == .rewritten }.map { p in
            ["post": p.post, "references": p.rewrites.count]
        }
        let problems: [[String: Any]] = r.rewrite.posts.filter {
            $0.status == .failed || $0.status == .changedMeanwhile
        }
        .map { ["post": $0.post, "status": $0.status.rawValue, "message": $0.message ?? ""] }
        let object: [String: Any] = [
            "command": "archive", "started_at": time.string(from: r.startedAt),
            "finished_at": time.string(from: r.finishedAt), "exit_code": Int(r.exitCode), "counts": counts(r),
            "failures": failures, "rewritten": rewritten, "waiting": r.postsWaiting, "post_problems": problems,
            "thumbnail_failures": r.fetch.thumbnailFailures.map(\.description),
            "rescued": r.fetch.outcomes.compactMap(RescueOutput.reportEntry),
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        let folder = layout.reportsDirectory
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let final = folder.appendingPathComponent("\(stamp.string(from: r.startedAt))-archive.json")
        let temporary = layout.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString).json")
        try data.write(to: temporary)
        try FileManager.default.moveItem(at: temporary, to: final)
        return final.path
    }
}
