import CFileShim
public import Foundation
public import ImgArchiveCore
public import ImgArchiveStore
public import Logging
import Synchronization

/// The pipeline's entries, one per command: each scans what its command needs, runs its stages and returns the
/// report the command prints. What stops a command is a `PipelineError`; `warn` is told, as they are found, the
/// problems the run goes on after (a post that cannot be read, a scan diagnostic, a skipped URL-list line).
public enum Pipeline {
    /// How many posts a scan listed, and how many of them could not be listed or read.
    public struct ScanCount: Sendable, Hashable {
        /// Posts found under the roots.
        public var posts: Int
        /// Paths that could not be listed, and posts that could not be read.
        public var unreadable: Int
    }

    /// `scan`: scans the posts under `roots` on all cores; `then` runs on each post's scan on the scanning
    /// thread (for work that should be parallel, such as formatting), and `inOrder` receives each post's outcome
    /// in the posts' order, as soon as it and those before it are done (its calls never overlap). A path that
    /// cannot be listed goes to `warn`; a post that cannot be read is a failure outcome.
    public static func scan<T: Sendable>(
        roots: [String], scanOptions: ScanOptions, warn: (String) -> Void,
        then: @Sendable @escaping (String, [UInt8], PostScan) -> T,
        inOrder: @Sendable (String, ScanRun.Outcome<T>) -> Void
    ) -> ScanCount {
        let (posts, problems) = SiteWalker.posts(in: roots)
        for problem in problems { warn("\(problem.path): \(problem.message)") }
        // The pages the walk used (its lists of sub-folders, the sort's buffer) given back: the set of distinct
        // URLs that grows meanwhile would otherwise come on top of them.
        _ = CFileShim_trimMalloc()
        let failed = Atomic<Int>(0)
        ScanRun.scan(posts, with: PostScanner(options: scanOptions), then: then) { index, outcome in
            if case .failure = outcome { failed.add(1, ordering: .relaxed) }
            inOrder(posts[index], outcome)
        }
        return ScanCount(posts: posts.count, unreadable: problems.count + failed.load(ordering: .relaxed))
    }

    /// `fetch`: scans the posts under `roots` and the URL list at `urlList`, then mirrors their images into the
    /// archive under its lock. References under `archiveLinks` (links into the archive itself) are left out.
    public static func fetch(
        roots: [String], urlList: String?, scanOptions: ScanOptions, archiveLinks: ArchiveLinker?,
        settings: FetchSettings, warn: (String) -> Void, logger: Logger,
        progress: (@Sendable (FetchProgress) -> Void)? = nil
    ) async throws(PipelineError) -> (report: FetchReport, unreadablePosts: Int) {
        try await fetch(
            roots: roots, urlList: urlList, scanOptions: scanOptions, archiveLinks: archiveLinks, settings: settings,
            chunkSize: SitePosts.chunkSize, warn: warn, logger: logger, progress: progress, keeping: { _ in true },
            each: { _ in })
    }

    /// `fetch`, a chunk of posts at a time (`SitePosts.chunkSize`): each chunk is scanned, recorded and fetched,
    /// and its URLs' outcomes handed to `each` (in the order first seen) before the next is scanned, so memory does
    /// not grow with the site but for the set of URLs seen. The report keeps the failed and rescued outcomes
    /// (what the text summary lists) and counts all.
    public static func fetch(
        roots: [String], urlList: String?, scanOptions: ScanOptions, archiveLinks: ArchiveLinker?,
        settings: FetchSettings, warn: (String) -> Void, logger: Logger,
        progress: (@Sendable (FetchProgress) -> Void)? = nil, each: ([URLOutcome]) -> Void
    ) async throws(PipelineError) -> (report: FetchReport, unreadablePosts: Int) {
        try await fetch(
            roots: roots, urlList: urlList, scanOptions: scanOptions, archiveLinks: archiveLinks, settings: settings,
            chunkSize: SitePosts.chunkSize, warn: warn, logger: logger, progress: progress,
            keeping: { $0.status == .failed || $0.status == .rescued }, each: each)
    }

    /// `fetch` by chunks of `chunkSize` posts (tests make them small), keeping the outcomes `keep` says.
    static func fetch(
        roots: [String], urlList: String?, scanOptions: ScanOptions, archiveLinks: ArchiveLinker?,
        settings: FetchSettings, chunkSize: Int, warn: (String) -> Void, logger: Logger,
        progress: (@Sendable (FetchProgress) -> Void)?, keeping keep: (URLOutcome) -> Bool,
        each: ([URLOutcome]) -> Void
    ) async throws(PipelineError) -> (report: FetchReport, unreadablePosts: Int) {
        let site = SitePosts(roots: roots, scanOptions: scanOptions, archiveLinks: archiveLinks, warn: warn)
        // The list is read first (a list that cannot be read stops the run before it starts); its lines are
        // told to `warn` after the posts', as a scan of the whole site tells them.
        let list = try urlList.map { path throws(PipelineError) in
            try SiteScan.read(urlList: path, cdnRules: scanOptions.cdnRules)
        }
        var unreadable = site.unlisted
        var ranges = site.chunks(of: chunkSize)
        if ranges.isEmpty { ranges = [0..<0] }  // a URL list alone is one chunk
        var chunks = ranges.enumerated().makeIterator()
        do {
            let lock = try ArchiveLock.acquire(settings.archiveRoot)
            defer { lock.release() }
            let report = try await FetchPipeline.run(
                chunks: {
                    guard let (n, range) = chunks.next() else { return nil }
                    let (posts, failed) = site.scan(range, known: nil, warn: warn)
                    unreadable += failed
                    var listed: [URLList.Entry] = []
                    if let list, n == ranges.count - 1 {
                        for problem in list.problems { warn(list.message(for: problem)) }
                        listed = list.entries
                    }
                    return FetchPipeline.Chunk(
                        items: FetchItem.items(from: SiteScan.references(of: posts), listed: listed), posts: posts)
                }, settings: settings, logger: logger, progress: progress, holding: lock, keeping: keep,
                each: { each($1) })
            return (report, unreadable)
        } catch {
            throw PipelineError(stopping: error, archiveRoot: settings.archiveRoot)
        }
    }

    /// `fetch --dry-run`: what `fetch` would do with the same scan, reading the manifest when there is one and
    /// changing nothing.
    public static func planFetch(
        roots: [String], urlList: String?, scanOptions: ScanOptions, archiveLinks: ArchiveLinker?,
        settings: FetchSettings, warn: (String) -> Void
    ) async throws(PipelineError) -> [URLOutcome] {
        let site = try SiteScan.collect(
            roots: roots, urlList: urlList, scanOptions: scanOptions, archiveLinks: archiveLinks, warn: warn)
        do {
            return try await FetchPipeline.dryRun(items: site.items, settings: settings)
        } catch {
            throw PipelineError(stopping: error, archiveRoot: settings.archiveRoot)
        }
    }

    /// `archive`, the scheduled job: scans the posts under `roots` (leaving out links into the archive, which
    /// `linker` knows), then fetches, makes thumbnails and rewrites the posts whose references are all archived,
    /// under one lock, a chunk of posts at a time (`ArchiveJob`).
    public static func archive(
        roots: [String], scanOptions: ScanOptions, fetch: FetchSettings, linker: ArchiveLinker,
        warn: (String) -> Void, logger: Logger, progress: (@Sendable (FetchProgress) -> Void)? = nil
    ) async throws(PipelineError) -> ArchiveJobReport {
        try await archive(
            roots: roots, scanOptions: scanOptions, fetch: fetch, linker: linker, chunkSize: SitePosts.chunkSize,
            warn: warn, logger: logger, progress: progress)
    }

    /// `archive` by chunks of `chunkSize` posts (tests make them small).
    static func archive(
        roots: [String], scanOptions: ScanOptions, fetch: FetchSettings, linker: ArchiveLinker, chunkSize: Int,
        warn: (String) -> Void, logger: Logger, progress: (@Sendable (FetchProgress) -> Void)?
    ) async throws(PipelineError) -> ArchiveJobReport {
        let site = SitePosts(roots: roots, scanOptions: scanOptions, archiveLinks: linker, warn: warn)
        var rewrite = RewriteSettings(
            archiveRoot: fetch.archiveRoot, linker: linker, scanner: PostScanner(options: scanOptions))
        rewrite.objectStore = fetch.objectStore
        rewrite.manifest = fetch.manifest
        do {
            return try await ArchiveJob.run(
                site: site, chunkSize: chunkSize, roots: roots, fetch: fetch, rewrite: rewrite, warn: warn,
                logger: logger, progress: progress)
        } catch {
            throw PipelineError(stopping: error, archiveRoot: fetch.archiveRoot, whenLocked: .didNothing)
        }
    }

    /// `rewrite`: scans the posts under `roots` and points each at the archived copies of its images.
    public static func rewrite(roots: [String], settings: RewriteSettings, warn: (String) -> Void, logger: Logger)
        async throws(PipelineError) -> (report: RewriteReport, unreadablePosts: Int)
    {
        var report = RewriteReport()
        let (_, unreadable) = try await rewrite(
            roots: roots, settings: settings, warn: warn, logger: logger, each: { report.posts += $0 })
        return (report, unreadable)
    }

    /// `rewrite`, a chunk of posts at a time (`RewritePipeline.chunkSize`): each chunk is scanned, rewritten and
    /// handed to `each` (its outcomes in the posts' order), the next chunk scanned before one is rewritten and its
    /// catalog read meanwhile, so memory does not grow with the site. Returns the totals and how many posts could
    /// not be listed or read.
    public static func rewrite(
        roots: [String], settings: RewriteSettings, warn: (String) -> Void, logger: Logger,
        each: ([PostRewriteOutcome]) -> Void
    ) async throws(PipelineError) -> (totals: RewriteReport.Totals, unreadablePosts: Int) {
        try await rewrite(
            roots: roots, settings: settings, chunkSize: RewritePipeline.chunkSize, warn: warn, logger: logger,
            each: each)
    }

    /// `rewrite` by chunks of `chunkSize` posts (tests make them small).
    static func rewrite(
        roots: [String], settings: RewriteSettings, chunkSize: Int, warn: (String) -> Void, logger: Logger,
        each: ([PostRewriteOutcome]) -> Void
    ) async throws(PipelineError) -> (totals: RewriteReport.Totals, unreadablePosts: Int) {
        let site = SitePosts(roots: roots, scanOptions: settings.scanner.options, warn: warn)
        var unreadable = site.unlisted
        var chunks = site.chunks(of: chunkSize).makeIterator()
        do {
            let totals = try await RewritePipeline.run(
                chunks: {
                    guard let range = chunks.next() else { return nil }
                    let (posts, failed) = site.scan(range, known: nil, warn: warn)
                    unreadable += failed
                    return posts
                }, settings: settings, logger: logger, each: each)
            return (totals, unreadable)
        } catch {
            throw PipelineError(stopping: error, archiveRoot: settings.archiveRoot)
        }
    }

    /// `rewrite --revert`: puts back the original bytes of every reference imgarchive rewrote in the posts at or
    /// under `paths` (every post the manifest knows when empty).
    public static func revert(paths: [String], settings: RewriteSettings, logger: Logger) async throws(PipelineError)
        -> RewriteReport
    {
        var report = RewriteReport()
        _ = try await revert(
            paths: paths, settings: settings, chunkSize: RewritePipeline.chunkSize, logger: logger,
            each: { report.posts += $0 })
        return report
    }

    /// `rewrite --revert`, a chunk of rewritten posts at a time (`RewritePipeline.chunkSize`): each chunk's records
    /// are read, its posts reverted and its outcomes handed to `each` before the next, so memory does not grow with
    /// the site (the posts found under a new name, and those missing, come last). Returns the totals.
    public static func revert(
        paths: [String], settings: RewriteSettings, logger: Logger, each: ([PostRewriteOutcome]) -> Void
    ) async throws(PipelineError) -> RewriteReport.Totals {
        try await revert(
            paths: paths, settings: settings, chunkSize: RewritePipeline.chunkSize, logger: logger, each: each)
    }

    /// `revert` by chunks of `chunkSize` posts (tests make them small).
    static func revert(
        paths: [String], settings: RewriteSettings, chunkSize: Int, logger: Logger,
        each: ([PostRewriteOutcome]) -> Void
    ) async throws(PipelineError) -> RewriteReport.Totals {
        do {
            return try await RewritePipeline.revert(
                paths: paths, settings: settings, chunkSize: chunkSize, logger: logger, each: each)
        } catch {
            throw PipelineError(stopping: error, archiveRoot: settings.archiveRoot)
        }
    }

    /// `status`: the manifest's report per post (no lock, no network). Any store error (no archive yet, a lost
    /// manifest) is `.unusableArchive`.
    public static func status(
        archiveRoot: URL, paths: [String], manifest: ManifestLocation = .archiveFolder
    ) async throws(PipelineError) -> StatusReport {
        do {
            return try await StatusReport.make(archiveRoot: archiveRoot, paths: paths, manifest: manifest)
        } catch {
            throw PipelineError(stopping: error, archiveRoot: archiveRoot, unusable: { _ in true })
        }
    }

    /// `status`, handed to `each` a post at a time (`StatusReport.make(archiveRoot:paths:manifest:each:)`);
    /// returns the report's totals.
    public static func status(
        archiveRoot: URL, paths: [String], manifest: ManifestLocation = .archiveFolder,
        each: ([StatusReport.Entry]) -> Void
    ) async throws(PipelineError) -> StatusReport.Totals {
        do {
            return try await StatusReport.make(archiveRoot: archiveRoot, paths: paths, manifest: manifest, each: each)
        } catch {
            throw PipelineError(stopping: error, archiveRoot: archiveRoot, unusable: { _ in true })
        }
    }

    /// `verify`: re-hashes the archive's files without a lock; with `repair`, under the lock, fetches missing or
    /// corrupt originals again and rebuilds thumbnails. No archive at the path is `.unusableArchive`.
    public static func verify(settings: FetchSettings, repair: Bool, logger: Logger) async throws(PipelineError)
        -> VerificationReport
    {
        do {
            if repair { return try await Verification.repair(settings: settings, logger: logger) }
            return try await Verification.verify(
                archiveRoot: settings.archiveRoot, objects: settings.objectStore, manifest: settings.manifest)
        } catch {
            throw PipelineError(
                stopping: error, archiveRoot: settings.archiveRoot, unusable: { $0.code == .invalidArgument })
        }
    }
}
