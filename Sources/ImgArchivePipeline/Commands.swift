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
        let site = try SiteScan.collect(
            roots: roots, urlList: urlList, scanOptions: scanOptions, archiveLinks: archiveLinks, warn: warn)
        do {
            let report = try await FetchPipeline.run(
                items: site.items, posts: site.posts, settings: settings, logger: logger, progress: progress)
            return (report, site.unreadable)
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
    /// under one lock (`ArchiveJob`).
    public static func archive(
        roots: [String], scanOptions: ScanOptions, fetch: FetchSettings, linker: ArchiveLinker,
        warn: (String) -> Void, logger: Logger, progress: (@Sendable (FetchProgress) -> Void)? = nil
    ) async throws(PipelineError) -> ArchiveJobReport {
        // The posts unchanged since the manifest's record of their last scan are not read or scanned again. The
        // record (every post's references) is let go once the scan is made, before the fetch and the rewrite.
        let site = try await scan(roots: roots, scanOptions: scanOptions, fetch: fetch, linker: linker, warn: warn)
        var rewrite = RewriteSettings(
            archiveRoot: fetch.archiveRoot, linker: linker, scanner: PostScanner(options: scanOptions))
        rewrite.objectStore = fetch.objectStore
        rewrite.manifest = fetch.manifest
        do {
            return try await ArchiveJob.run(
                items: site.items, posts: site.posts, unreadablePosts: site.unreadable, roots: roots, fetch: fetch,
                rewrite: rewrite, logger: logger, progress: progress)
        } catch {
            throw PipelineError(stopping: error, archiveRoot: fetch.archiveRoot, whenLocked: .didNothing)
        }
    }

    /// The job's scan, with the manifest's record of the last scans (`KnownScans`) held only while it runs.
    private static func scan(
        roots: [String], scanOptions: ScanOptions, fetch: FetchSettings, linker: ArchiveLinker, warn: (String) -> Void
    ) async throws(PipelineError) -> SiteScan {
        let known: KnownScans?
        do {
            known = try await KnownScans.read(archiveRoot: fetch.archiveRoot, manifest: fetch.manifest)
        } catch {
            throw PipelineError(stopping: error, archiveRoot: fetch.archiveRoot, whenLocked: .didNothing)
        }
        return try SiteScan.collect(
            roots: roots, scanOptions: scanOptions, archiveLinks: linker, known: known, warn: warn)
    }

    /// `rewrite`: scans the posts under `roots` and points each at the archived copies of its images.
    public static func rewrite(roots: [String], settings: RewriteSettings, warn: (String) -> Void, logger: Logger)
        async throws(PipelineError) -> (report: RewriteReport, unreadablePosts: Int)
    {
        let site = try SiteScan.collect(roots: roots, scanOptions: settings.scanner.options, warn: warn)
        do {
            return (
                try await RewritePipeline.run(posts: site.posts, settings: settings, logger: logger), site.unreadable
            )
        } catch {
            throw PipelineError(stopping: error, archiveRoot: settings.archiveRoot)
        }
    }

    /// `rewrite --revert`: puts back the original bytes of every reference imgarchive rewrote in the posts at or
    /// under `paths` (every post the manifest knows when empty).
    public static func revert(paths: [String], settings: RewriteSettings, logger: Logger) async throws(PipelineError)
        -> RewriteReport
    {
        do {
            return try await RewritePipeline.revert(paths: paths, settings: settings, logger: logger)
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
