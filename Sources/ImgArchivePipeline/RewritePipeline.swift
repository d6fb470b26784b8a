public import Foundation
public import ImgArchiveCore
public import ImgArchiveStore
public import Logging

/// Settings of one rewrite or revert.
public struct RewriteSettings: Sendable {
    /// The archive folder.
    public var archiveRoot: URL
    /// How links to the archive are written.
    public var linker: ArchiveLinker
    /// Rescans rewritten posts, so the manifest lists what is still remote.
    public var scanner: PostScanner
    /// Plan and show diffs; write nothing.
    public var dryRun = false
    /// Rewrite a post only when every remote reference in it can be (the archive job's rule: an outage
    /// never leaves a post half local); otherwise the post is `waiting`.
    public var requireComplete = false
    /// Where archived files live (checked before a post links to them).
    public var objectStore: ObjectStoreFactory = .local
    /// Where the manifest lives (`manifest:`, `--manifest`): the archive folder's SQLite file, or PostgreSQL.
    public var manifest: ManifestLocation = .archiveFolder

    /// Creates settings.
    public init(archiveRoot: URL, linker: ArchiveLinker, scanner: PostScanner) {
        self.archiveRoot = archiveRoot
        self.linker = linker
        self.scanner = scanner
    }
}

/// What a rewrite or revert did to one post.
public struct PostRewriteOutcome: Sendable, Hashable {
    /// How it ended.
    public enum Status: String, Sendable, Hashable {
        /// New bytes written (or, in a dry run, would be).
        case rewritten
        /// Put back to its bytes before imgarchive rewrote it (or, in a dry run, would be).
        case reverted
        /// Nothing to change.
        case unchanged
        /// The post changed after it was scanned; left alone.
        case changedMeanwhile = "changed-meanwhile"
        /// Some of its references are not archived, and the settings ask for all or nothing.
        case waiting
        /// The manifest has rewrites of it, but the file is gone (deleted, or renamed and not found).
        case missing
        /// It could not be read or written; `message` says why.
        case failed
    }

    /// The post's path.
    public var post: String
    /// How it ended.
    public var status: Status
    /// The references replaced by local links (rewrite) or given back their URLs (revert: count only).
    public var rewrites: [PlannedRewrite] = []
    /// For a revert: the spans put back.
    public var reverted = 0
    /// For a revert: the URLs whose local link is no longer in the post (their records are kept).
    public var notFound: [String] = []
    /// The remote references left as they are, and why.
    public var leftRemote: [LeftRemote] = []
    /// What went wrong or what to know.
    public var message: String?
    /// A unified diff of the change (dry run only), byte for byte.
    public var diff: [UInt8]?
}

/// What a rewrite or revert did.
public struct RewriteReport: Sendable {
    /// One outcome per post, in the order of the input.
    public var posts: [PostRewriteOutcome] = []

    /// What a rewrite or revert handed out a chunk of posts at a time adds up to: what its summary and exit code
    /// say, without the posts.
    public struct Totals: Sendable, Hashable {
        /// The posts handed out.
        public var posts = 0
        /// Posts counted by status.
        public var counts: [PostRewriteOutcome.Status: Int] = [:]
        /// The number of references replaced.
        public var referencesRewritten = 0
        /// The number of spans put back (revert).
        public var referencesReverted = 0
        /// The posts with local links no longer found, left as they are (revert).
        public var postsWithLinksNotFound = 0
        /// The remote references left, counted by why (`not-fetched`, `failed`, `missing-file`).
        public var leftRemoteByKind: [String: Int] = [:]

        /// Creates empty totals.
        public init() {}

        /// Adds `outcomes` to the totals.
        public mutating func add(_ outcomes: some Sequence<PostRewriteOutcome>) {
            for outcome in outcomes {
                posts += 1
                counts[outcome.status, default: 0] += 1
                referencesRewritten += outcome.rewrites.count
                referencesReverted += outcome.reverted
                if !outcome.notFound.isEmpty { postsWithLinksNotFound += 1 }
                for left in outcome.leftRemote { leftRemoteByKind[left.kind, default: 0] += 1 }
            }
        }
    }

    /// The report's totals.
    public var totals: Totals {
        var totals = Totals()
        totals.add(posts)
        return totals
    }

    /// Posts counted by status.
    public var counts: [PostRewriteOutcome.Status: Int] {
        posts.reduce(into: [:]) { $0[$1.status, default: 0] += 1 }
    }

    /// The number of references replaced.
    public var referencesRewritten: Int { posts.reduce(0) { $0 + $1.rewrites.count } }

    /// The remote references left, counted by why (`not-fetched`, `failed`, `missing-file`).
    public var leftRemoteByKind: [String: Int] {
        posts.flatMap(\.leftRemote).reduce(into: [:]) { $0[$1.kind, default: 0] += 1 }
    }
}

/// Points posts at the archive, byte-precisely and atomically, and puts them back.
public enum RewritePipeline {
    /// Rewrites each post's archived references to local links, under the archive's lock (none in a dry run).
    /// Posts whose bytes no longer hash to the scan's are skipped. Throws `StoreError` (`.locked` when another
    /// run holds the archive) for set-up failures; per-post failures are outcomes.
    public static func run(posts: [ScannedPost], settings: RewriteSettings, logger: Logger) async throws
        -> RewriteReport
    {
        var report = RewriteReport()
        var chunks = [posts].makeIterator()
        _ = try await run(chunks: { chunks.next() }, settings: settings, logger: logger, each: { report.posts += $0 })
        return report
    }

    /// `run` on a site handed over a chunk of posts at a time (`chunks` gives the next, nil at the end): each
    /// chunk's outcomes go to `each` once its posts are in place, and only the totals are kept.
    static func run(
        chunks: () throws -> [ScannedPost]?, settings: RewriteSettings, logger: Logger,
        each: ([PostRewriteOutcome]) -> Void
    ) async throws -> RewriteReport.Totals {
        // Without a manifest nothing is archived: plan (everything stays remote) without creating an archive.
        let hasManifest = try ArchiveBackend.hasManifest(
            ArchiveLayout(root: settings.archiveRoot), location: settings.manifest)
        if settings.dryRun || !hasManifest {
            return try await rewrite(chunks: chunks, settings: settings, lock: nil, logger: logger, each: each)
        }
        let lock = try ArchiveLock.acquire(settings.archiveRoot)
        defer { lock.release() }
        let totals = try await rewrite(chunks: chunks, settings: settings, lock: lock, logger: logger, each: each)
        if totals.counts[.rewritten, default: 0] > 0 { await snapshot(settings, logger: logger) }
        return totals
    }

    /// After a run that rewrote or reverted posts: a manifest snapshot, so the records `--revert` needs are in
    /// `archive/backups/` too, not in the manifest only.
    private static func snapshot(_ settings: RewriteSettings, logger: Logger) async {
        let layout = ArchiveLayout(root: settings.archiveRoot)
        // A database has its own backups (pg_dump, docs/scale-out.md).
        guard settings.manifest == .archiveFolder else { return }
        do {
            let manifest = try await SQLiteManifest.open(layout: layout)
            defer { try? manifest.close() }
            try await ManifestBackups(layout: layout).snapshot(of: manifest)
        } catch {
            logger.warning("the manifest snapshot could not be written", metadata: ["error": "\(error)"])
        }
    }

    /// How many posts are put in place together: their temporary files made durable at once, their records
    /// written in one durable transaction before their renames, and their folders synced once.
    /// With batches put in place while the next are staged (`BatchLine`), 128 was faster than 64 or 256 (and 256
    /// faster than 512: docs/performance.md, 2026-12-05).
    static let batchSize = 128

    /// How many posts `rewrite` scans at a time (and a revert takes): four batches. The next chunk is scanned before a
    /// chunk is rewritten and its catalog read meanwhile; the first chunk's is waited for, and each chunk's last
    /// batch is in place before the chunk's outcomes are handed out (2,000 was slower, 256 to 1,024 within noise:
    /// docs/performance.md).
    public static let chunkSize = 512

    /// The rewrite itself, with the lock already held (nil only in a dry run).
    static func rewrite(posts: [ScannedPost], settings: RewriteSettings, lock: ArchiveLock?, logger: Logger)
        async throws -> RewriteReport
    {
        var report = RewriteReport()
        var chunks = [posts].makeIterator()
        _ = try await rewrite(
            chunks: { chunks.next() }, settings: settings, lock: lock, logger: logger,
            each: { report.posts += $0 })
        return report
    }

    /// The rewrite a chunk of posts at a time (`chunks`, nil at the end), with the lock already held (nil only in
    /// a dry run): each chunk's outcomes go to `each` once its posts are in place (`RewriteRun`).
    static func rewrite(
        chunks: () throws -> [ScannedPost]?, settings: RewriteSettings, lock: ArchiveLock?,
        logger: Logger, each: ([PostRewriteOutcome]) -> Void
    ) async throws -> RewriteReport.Totals {
        var run = try await RewriteRun.open(settings: settings, lock: lock, logger: logger)
        defer { run.close() }
        var totals = RewriteReport.Totals()
        // Before a chunk is rewritten the next is scanned, and the catalog of its URLs is read in a task of its own
        // while the chunk is rewritten (mostly waiting for the disk). A task under way is waited for before an error
        // goes up, so nothing reads the manifest once the run is closed.
        var posts = try chunks()
        var catalog = posts.map { run.catalog(of: $0) }
        while let chunk = posts, let reading = catalog {
            let report: RewriteReport
            do {
                let read = try await reading.value
                posts = try chunks()
                catalog = posts.map { run.catalog(of: $0) }
                report = try await run.rewrite(chunk, catalog: read)
            } catch {
                _ = try? await reading.value
                _ = try? await catalog?.value
                throw error
            }
            totals.add(report.posts)
            each(report.posts)
        }
        return totals
    }

    /// A rewrite of a site a chunk of posts at a time: `open` settles the pending generations, once, before any
    /// post is written; then `rewrite` takes each chunk (reading the catalog of its URLs only), removes the
    /// temporary posts an interrupted run left in the folders of its posts' files that no earlier chunk had
    /// (before any post of the chunk is written), and returns its outcomes, which the caller hands on and lets
    /// go.
    struct RewriteRun {
        let settings: RewriteSettings
        let layout: ArchiveLayout
        let backend: ArchiveBackend?
        let roots: [String]
        let logger: Logger
        /// The files already rewritten: two names for one file (a symbolic link, `./a/../a.md`) are one post,
        /// the first name is rewritten and the others are skipped (rewriting again would find the post "changed
        /// meanwhile" on every run). 16 bytes a post (`StringDigestSet`).
        private var targets = StringDigestSet()
        /// The folders already rid of an interrupted run's temporary posts (with the lock held; none without).
        private var swept = Set<String>()
        private let sweeps: Bool
        /// The replaced posts' files, written again for later posts (`PostFile.Spares`).
        private let spares = PostFile.Spares()

        private init(settings: RewriteSettings, backend: ArchiveBackend?, sweeps: Bool, logger: Logger) {
            self.settings = settings
            self.sweeps = sweeps
            layout = ArchiveLayout(root: settings.archiveRoot)
            self.backend = backend
            roots = siteRoots(layout)
            self.logger = logger
        }

        /// Opens the archive for a rewrite, with the lock already held (nil only in a dry run, which opens the
        /// manifest only when there is one).
        static func open(settings: RewriteSettings, lock: ArchiveLock?, logger: Logger)
            async throws -> RewriteRun
        {
            let layout = ArchiveLayout(root: settings.archiveRoot)
            let backend: ArchiveBackend? =
                try ArchiveBackend.hasManifest(layout, location: settings.manifest) || lock != nil
                ? try await ArchiveBackend.open(
                    root: settings.archiveRoot, objects: settings.objectStore, manifest: settings.manifest) : nil
            let run = RewriteRun(settings: settings, backend: backend, sweeps: lock != nil, logger: logger)
            if lock != nil {
                do {
                    if let manifest = backend?.manifest { try await settlePending(manifest, layout: layout) }
                } catch {
                    run.close()
                    throw error
                }
            }
            return run
        }

        /// Deletes the spare files and closes the archive.
        func close() {
            spares.removeAll()
            backend?.close()
        }

        /// Whether a post of a chunk rewritten so far had the file `target` (standardised, links resolved): the file
        /// was there then. Also once closed.
        func took(file target: String) -> Bool { targets.contains(target) }

        /// The catalog of the URLs of `posts`, read in a task of its own (`rewrite(_:catalog:)`).
        func catalog(of posts: [ScannedPost]) -> Task<Catalog, any Error> {
            let (manifest, store) = (backend?.manifest, backend?.objects)
            return Task { try await Catalog(manifest: manifest, store: store, posts: posts) }
        }

        /// Rewrites one chunk of posts, reading the catalog of its URLs only (unless given, read from the manifest
        /// as it is now: `catalog(of:)`).
        mutating func rewrite(_ posts: [ScannedPost], catalog given: Catalog? = nil) async throws -> RewriteReport {
            let manifest = backend?.manifest
            let catalog: Catalog
            if let given {
                catalog = given
            } else {
                catalog = try await Catalog(manifest: manifest, store: backend?.objects, posts: posts)
            }
            // Each post's file (links resolved) and key, each folder resolved once.
            let files = PostFile.targets(of: posts.map(\.path))
            let keys = layout.postKeys(of: posts)
            if sweeps { removeStaleTemporaryPosts(files: files, skipping: &swept, logger: logger) }
            var report = RewriteReport()
            var batch: [StagedRewrite] = []
            var line = BatchLine()
            func launch(_ batch: [StagedRewrite], into manifest: any RewriteLedger) async {
                let (spares, logger) = (spares, logger)
                await line.launch(batch, flushing: batch.map(\.staged), in: &report) { items, synced, outcomes in
                    await commit(
                        items, synced: synced, into: &outcomes, manifest: manifest, spares: spares, logger: logger)
                }
            }
            for (i, post) in posts.enumerated() {
                let target = files[i]
                guard targets.insert(target) else { continue }
                let plan = RewritePlan(
                    references: post.references, postPath: post.path, linker: settings.linker, asset: catalog.asset)
                var outcome = PostRewriteOutcome(post: post.path, status: .unchanged, leftRemote: plan.leftRemote)
                if settings.requireComplete && !plan.leftRemote.isEmpty {
                    outcome.status = .waiting
                    report.posts.append(outcome)
                    continue
                }
                guard !plan.rewrites.isEmpty else {
                    report.posts.append(outcome)
                    continue
                }
                do {
                    if let staged = try stageRewrite(
                        post, key: keys[i], target: target, plan: plan, outcome: &outcome, settings: settings,
                        manifest: manifest, roots: roots, spares: spares)
                    {
                        batch.append(StagedRewrite(index: report.posts.count, staged: staged.0, pending: staged.1))
                    }
                } catch {
                    outcome.status = .failed
                    outcome.rewrites = []
                    outcome.message = "\(post.path): not rewritten: \(error)"
                    logger.info("rewrite failed", metadata: ["post": "\(post.path)"])
                }
                report.posts.append(outcome)
                if let manifest, batch.count >= batchSize {
                    await launch(batch, into: manifest)
                    batch = []
                }
            }
            if let manifest, !batch.isEmpty { await launch(batch, into: manifest) }
            await line.land(in: &report)
            return report
        }
    }

    /// The batches of a chunk of posts (rewritten or reverted) put in place one after the other while the next are
    /// staged: a batch's temporary files are flushed as soon as it is launched, and the rest of its commit (records,
    /// renames, the folders' fsyncs) waits for the batch before it, so a batch's waits for the disk and its
    /// manifest writes overlap the reading and writing of the next posts. At most two are under way; a batch's
    /// outcomes are its chunk report's once it has landed.
    struct BatchLine {
        private var underWay: [Task<[(Int, PostRewriteOutcome)], Never>] = []

        /// Waits for the batches under way but the newest `left`, oldest first, and puts their outcomes in `report`.
        mutating func land(leaving left: Int = 0, in report: inout RewriteReport) async {
            while underWay.count > left {
                for (index, outcome) in await underWay.removeFirst().value { report.posts[index] = outcome }
            }
        }

        /// Launches `batch` (its items' outcomes in `report`) once at most one other is under way, landing the
        /// older ones: its `files` are flushed at once, then, once the batch before it has landed, `rest` gets the
        /// items numbered from 0, the flush's results (for each file, nil or why it failed) and a report of their
        /// outcomes in that order, which it updates; they land at the items' places in `report`.
        mutating func launch<Item: BatchItem>(
            _ batch: [Item], flushing files: [PostFile.Staged], in report: inout RewriteReport,
            rest: @escaping @Sendable ([Item], [StoreError?], inout RewriteReport) async -> Void
        ) async {
            await land(leaving: 1, in: &report)
            var outcomes = RewriteReport()
            outcomes.posts = batch.map { report.posts[$0.index] }
            var numbered = batch
            for j in numbered.indices { numbered[j].index = j }
            let (before, places) = (underWay.last, batch.map(\.index))
            underWay.append(
                Task { [outcomes, numbered] in
                    var outcomes = outcomes
                    let synced = await PostFile.sync(files)
                    _ = await before?.value
                    await rest(numbered, synced, &outcomes)
                    return Array(zip(places, outcomes.posts))
                })
        }
    }

    /// A post of a batch (`BatchLine`): its place in its chunk's report.
    protocol BatchItem: Sendable {
        var index: Int { get set }
    }

    /// A post whose new bytes wait in a temporary file for their batch's record and rename.
    private struct StagedRewrite: BatchItem {
        /// The post's outcome in the report.
        var index: Int
        var staged: PostFile.Staged
        var pending: PendingRewrite
    }

    /// What a staged rewrite records: the scan it was planned from, the rewrite, the scan it leaves.
    private struct PendingRewrite {
        var before: PostReferences
        var rewrite: PostRewrite
        var after: PostReferences
    }

    /// Plans one post's new bytes and, unless the outcome is already final (a dry run, a post outside the site
    /// or changed since its scan), writes them to a temporary file beside it.
    private static func stageRewrite(
        _ post: ScannedPost, key: String, target: String, plan: RewritePlan, outcome: inout PostRewriteOutcome,
        settings: RewriteSettings, manifest: (any RewriteLedger)?, roots: [String], spares: PostFile.Spares
    ) throws -> (PostFile.Staged, PendingRewrite)? {
        if let target = outsideSite(target: target, roots: roots) {
            outcome.status = .unchanged
            outcome.message = "\(post.path) is a symbolic link to \(target), outside the site: read, never written"
            return nil
        }
        let bytes = try PostFile.read(post.path)
        guard ArchiveStore.sha256(of: bytes) == post.contentSHA256 else {
            outcome.status = .changedMeanwhile
            outcome.message = "\(post.path) changed after it was scanned; it was left alone: run the command again"
            return nil
        }
        guard let (newBytes, ranges) = Splice.apply(plan.splices, to: bytes) else {
            throw StoreError(code: .invalidArgument, path: post.path, message: "the scan's spans overlap")
        }
        outcome.rewrites = plan.rewrites
        outcome.status = .rewritten
        if settings.dryRun {
            outcome.diff = UnifiedDiff.render(path: post.path, old: bytes, splices: plan.splices)
            return nil
        }
        guard manifest != nil else { return nil }
        let now = Date()
        let records = zip(plan.rewrites, ranges).map { rewrite, range in
            let context = RevertStep.Span.context(of: range, in: newBytes)
            return RewriteRecord(
                rangeStart: range.lowerBound, rangeEnd: range.upperBound, replacement: rewrite.replacement,
                original: Data(bytes[rewrite.reference.range]), url: rewrite.reference.url, rewrittenAt: now,
                contextBefore: Data(context.before), contextAfter: Data(context.after))
        }
        let newSHA = ArchiveStore.sha256(of: newBytes)
        let left = plan.references(after: post.references, in: bytes) ?? settings.scanner.scan(newBytes).references
        let pending = PendingRewrite(
            before: PostReferences(
                post: key, contentSHA256: post.contentSHA256,
                references: post.references.filter(\.remote).map(FetchPipeline.referenceRecord), file: post.file,
                scannedWith: post.scannedWith),
            rewrite: PostRewrite(
                post: key, inputSHA256: post.contentSHA256, outputSHA256: newSHA, rewrites: records, at: now),
            after: PostReferences(
                post: key, contentSHA256: newSHA, references: left.filter(\.remote).map(FetchPipeline.referenceRecord)))
        return (
            try PostFile.stage(post.path, target: target, expected: bytes, with: newBytes, spares: spares), pending
        )
    }

    /// Puts a batch of staged posts in place: their temporary files made durable together, the scans they were
    /// planned from and their rewrites recorded (the rewrites in one durable transaction), the posts renamed,
    /// their folders synced once each, then the rewrites confirmed with the scans they leave, in one
    /// transaction. A kill at any point leaves each post its old or its new bytes, with its record on disk
    /// when it shows the new ones (`settlePending` sorts the rest out on the next run). The temporary files were
    /// flushed already (`BatchLine`; `synced`: nil or why each failed); the outcomes are in `report` at the items'
    /// indices.
    private static func commit(
        _ batch: [StagedRewrite], synced: [StoreError?], into report: inout RewriteReport,
        manifest: some RewriteLedger, spares: PostFile.Spares, logger: Logger
    ) async {
        guard !batch.isEmpty else { return }
        func fail(_ item: StagedRewrite, _ message: String) {
            PostFile.discard(item.staged)
            report.posts[item.index].status = .failed
            report.posts[item.index].rewrites = []
            report.posts[item.index].message = message
            logger.info("rewrite failed", metadata: ["post": "\(item.staged.path)"])
        }
        var live: [StagedRewrite] = []
        for (item, error) in zip(batch, synced) {
            if let error { fail(item, "\(item.staged.path): not rewritten: \(error)") } else { live.append(item) }
        }
        let generations: [Int]
        do {
            try await manifest.replaceReferences(live.map(\.pending.before), scannedAt: Date())
            generations = try await manifest.recordRewrites(live.map(\.pending.rewrite))
        } catch {
            for item in live { fail(item, "\(item.staged.path): not rewritten: \(error)") }
            return
        }
        FailPoint.reach("rewrite-recorded")
        var renamed: [(item: StagedRewrite, generation: Int)] = []
        for (item, generation) in zip(live, generations) {
            let key = item.pending.rewrite.post
            do {
                if try PostFile.moveIntoPlace(item.staged, spares: spares) == .replaced {
                    renamed.append((item, generation))
                    continue
                }
                report.posts[item.index].status = .changedMeanwhile
                report.posts[item.index].rewrites = []
                report.posts[item.index].message =
                    "\(item.staged.path) changed while it was being rewritten; it was left alone: run the command again"
            } catch {
                fail(item, "\(item.staged.path): not rewritten: \(error)")
            }
            // Never in place: forgotten now, or by the next run's `settlePending`.
            try? await manifest.discardRewrite(post: key, generation: generation)
        }
        FailPoint.reach("rewrite-renamed")
        // The posts are rewritten now; a failure to record that is settled by the next run (pending generations).
        do {
            try PostFile.syncFolders(of: renamed.map(\.item.staged), releasing: spares)
            try await manifest.markRewritesApplied(renamed.map { ($0.item.pending.rewrite.post, $0.generation) })
            try await manifest.replaceReferences(renamed.map(\.item.pending.after), scannedAt: Date())
        } catch {
            for (item, _) in renamed {
                report.posts[item.index].message =
                    "\(item.staged.path) was rewritten, but the manifest could not record it (\(error)); "
                    + "the next run records it"
            }
        }
    }

    /// Puts back the exact original bytes of every rewritten reference in the posts under `paths` (all
    /// posts with rewrites when empty), newest rewrite first. A post edited since its rewrite is reverted by
    /// finding each local link by content; a post renamed since is found by its bytes among the posts under
    /// `paths`. The posts with rewrites are taken a chunk of `chunkSize` at a time (their records read for that
    /// chunk only): each chunk's outcomes go to `each` once its posts are in place (the posts found under a new
    /// name, and those missing, after all the others), and only the totals are kept.
    static func revert(
        paths: [String], settings: RewriteSettings, chunkSize: Int, logger: Logger,
        each: ([PostRewriteOutcome]) -> Void
    ) async throws -> RewriteReport.Totals {
        let layout = ArchiveLayout(root: settings.archiveRoot)
        guard try ArchiveBackend.hasManifest(layout, location: settings.manifest) else {
            return RewriteReport.Totals()
        }
        let lock: ArchiveLock? = settings.dryRun ? nil : try ArchiveLock.acquire(settings.archiveRoot)
        defer { lock?.release() }
        let manifest = try await ArchiveBackend.openManifest(layout, location: settings.manifest)
        defer { try? manifest.close() }
        let totals = try await revert(
            paths: paths, settings: settings, chunkSize: chunkSize, manifest: manifest, layout: layout, lock: lock,
            logger: logger, each: each)
        if lock != nil && totals.referencesReverted > 0 { await snapshot(settings, logger: logger) }
        return totals
    }

    private static func revert(
        paths: [String], settings: RewriteSettings, chunkSize: Int, manifest: some RewriteLedger,
        layout: ArchiveLayout, lock: ArchiveLock?, logger: Logger, each: ([PostRewriteOutcome]) -> Void
    ) async throws -> RewriteReport.Totals {
        let filters = paths.map { layout.postPath(layout.postKey($0)) }
        func selected(_ absolute: String) -> Bool {
            filters.isEmpty || filters.contains { absolute == $0 || absolute.hasPrefix($0 == "/" ? "/" : $0 + "/") }
        }
        // Packed: the one list a revert holds of the whole site.
        let rewrittenKeys = PackedStrings(try await manifest.rewrittenPosts())
        // Once per run, before any post is written; the generations are read after it, which changes some.
        if lock != nil { try await settlePending(manifest, layout: layout) }
        let base = layout.postBase
        let here = ArchiveLayout.currentFolder()
        let roots = siteRoots(layout)
        // The reverted posts' files, written again for later posts (`PostFile.Spares`).
        let spares = PostFile.Spares()
        defer { spares.removeAll() }
        func revertSafely(
            file: String, target: String, key: String, fileKey: String, generations: [RewriteGeneration]
        ) -> (PostRewriteOutcome, StagedRevert?) {
            Self.revertSafely(
                file: file, target: target, key: key, fileKey: fileKey,
                shown: ArchiveLayout.displayPath(fileKey, from: here, base: base), generations: generations,
                settings: settings, roots: roots, spares: spares)
        }
        // The outcomes of the chunk under way, and its posts waiting for their batch.
        var totals = RewriteReport.Totals()
        var report = RewriteReport()
        var batch: [StagedRevert] = []
        var line = BatchLine()
        func launch() async {
            guard !batch.isEmpty else { return }
            await line.launch(batch, flushing: batch.compactMap(\.staged), in: &report) { items, synced, outcomes in
                await commit(items, synced: synced, into: &outcomes, manifest: manifest, spares: spares, logger: logger)
            }
        }
        func add(_ outcome: PostRewriteOutcome, _ pending: StagedRevert?) async {
            if var pending {
                pending.index = report.posts.count
                batch.append(pending)
            }
            report.posts.append(outcome)
            if batch.count >= batchSize {
                await launch()
                batch = []
            }
        }
        /// Puts the chunk's last batch in place, hands its outcomes out and lets them go.
        func handOut() async {
            await launch()
            batch = []
            await line.land(in: &report)
            totals.add(report.posts)
            if !report.posts.isEmpty { each(report.posts) }
            report = RewriteReport()
        }
        // What the search for renamed posts needs across chunks: the posts whose file is gone, with the bytes
        // they were rewritten to.
        var missing: [(key: String, outputs: Set<String>)] = []
        var swept = Set<String>()
        for start in stride(from: 0, to: rewrittenKeys.count, by: chunkSize) {
            let chunk = Array(rewrittenKeys[start..<min(start + chunkSize, rewrittenKeys.count)])
            // The folders post names depend on, resolved once; each post's file (links resolved) looked at once.
            let files = chunk.map { ArchiveLayout.postPath($0, base: base) }
            let targets = PostFile.targets(of: files)
            if lock != nil { removeStaleTemporaryPosts(files: targets, skipping: &swept, logger: logger) }
            let generations = try await manifest.rewriteGenerations(posts: chunk)
            var present: [Int] = []
            for (i, key) in chunk.enumerated() {
                guard FileManager.default.fileExists(atPath: files[i]) else {
                    missing.append((key, Set((generations[key] ?? []).map(\.outputSHA256))))
                    continue
                }
                if selected(files[i]) { present.append(i) }
            }
            // The manifest's names of the posts' files as they are now (through linked folders), each folder once.
            let fileKeys = layout.postKeys(present.map { files[$0] })
            for (i, fileKey) in zip(present, fileKeys) {
                let (outcome, pending) = revertSafely(
                    file: files[i], target: targets[i], key: chunk[i], fileKey: fileKey,
                    generations: generations[chunk[i]] ?? [])
                await add(outcome, pending)
            }
            await handOut()
        }
        guard !missing.isEmpty else { return totals }
        // Renamed or moved posts: a post under the paths (with no records of its own: the names of the posts
        // with records, 16 bytes each, made only now) that holds the bytes a missing post was rewritten to.
        var keys = StringDigestSet()
        for key in rewrittenKeys { keys.insert(key) }
        var candidates: [(file: String, bytes: [UInt8])] = []
        var byHash: [String: String] = [:]
        var seen = Set<String>()
        for file in SiteWalker.posts(in: paths.isEmpty ? [layout.postBase, "."] : paths).posts {
            let key = layout.postKey(file)
            guard !keys.contains(key), seen.insert(key).inserted, let bytes = try? PostFile.read(file) else { continue }
            byHash[ArchiveStore.sha256(of: bytes)] = file
            candidates.append((file, bytes))
        }
        for start in stride(from: 0, to: missing.count, by: chunkSize) {
            let chunk = missing[start..<min(start + chunkSize, missing.count)]
            let generations = try await manifest.rewriteGenerations(posts: chunk.map(\.key))
            for (key, outputs) in chunk {
                // By its bytes as rewritten; or, when the user named the posts, by holding every link it was given
                // (renamed and edited).
                var match = outputs.lazy.compactMap({ byHash[$0] }).first
                if match == nil && !paths.isEmpty {
                    let links = (generations[key] ?? []).filter(\.applied).flatMap(\.spans)
                        .map { Array($0.replacement.utf8) }
                    match =
                        candidates.first { candidate in
                            !links.isEmpty
                                && links.allSatisfy { !RevertStep.occurrences(of: $0, in: candidate.bytes).isEmpty }
                        }?.file
                }
                if let file = match {
                    byHash = byHash.filter { $0.value != file }
                    candidates.removeAll { $0.file == file }
                    var (outcome, pending) = revertSafely(
                        file: file, target: PostFile.target(of: file), key: key, fileKey: layout.postKey(file),
                        generations: generations[key] ?? [])
                    // Once reverted (the batch recorded), the old name's records go.
                    pending?.forgetKey = outcome.status == .reverted
                    outcome.message = [
                        outcome.message,
                        "found as \(outcome.post) (was \(ArchiveLayout.displayPath(key, from: here, base: base)))",
                    ]
                    .compactMap { $0 }.joined(separator: "; ")
                    await add(outcome, pending)
                } else if selected(ArchiveLayout.postPath(key, base: base)) {
                    let shown = ArchiveLayout.displayPath(key, from: here, base: base)
                    report.posts.append(
                        PostRewriteOutcome(
                            post: shown, status: .missing,
                            message: "\(shown) no longer exists, and no post under "
                                + (paths.isEmpty ? "the site" : paths.joined(separator: ", "))
                                + " holds its rewritten bytes: if it was renamed, give its new path; its original "
                                + "URLs stay in the manifest"))
                }
            }
            await handOut()
        }
        return totals
    }

    /// A reverted post waiting for its batch: its original bytes in a temporary file (nil when the post's
    /// bytes do not change, only the manifest), and what the manifest records once it is in place.
    private struct StagedRevert: BatchItem {
        /// The post's outcome in the report.
        var index = 0
        var staged: PostFile.Staged?
        var revert: PostRevert
        /// The scan of the reverted bytes, under the post's current name.
        var scan: PostReferences
        /// The post was found under a new name: its old name's records are removed.
        var forgetKey = false
    }

    /// Reverts the post at `file` (`target`: symbolic links resolved; `fileKey`: its name now; `shown`: as the
    /// user sees it) with the generations recorded under `key`; what went wrong is its outcome.
    private static func revertSafely(
        file: String, target: String, key: String, fileKey: String, shown: String, generations: [RewriteGeneration],
        settings: RewriteSettings, roots: [String], spares: PostFile.Spares
    ) -> (PostRewriteOutcome, StagedRevert?) {
        do {
            var (outcome, pending) = try revertOne(
                file: file, target: target, fileKey: fileKey, shown: shown, key: key, generations: generations,
                settings: settings, roots: roots, spares: spares)
            outcome.post = shown
            return (outcome, pending)
        } catch {
            return (PostRewriteOutcome(post: shown, status: .failed, message: "\(shown): not reverted: \(error)"), nil)
        }
    }

    private static func revertOne(
        file: String, target: String, fileKey: String, shown: String, key: String, generations: [RewriteGeneration],
        settings: RewriteSettings, roots: [String], spares: PostFile.Spares
    ) throws -> (PostRewriteOutcome, StagedRevert?) {
        var outcome = PostRewriteOutcome(post: shown, status: .reverted)
        if let target = outsideSite(target: target, roots: roots) {
            outcome.status = .unchanged
            outcome.message = "\(shown) is a symbolic link to \(target), outside the site: read, never written"
            return (outcome, nil)
        }
        let bytes = try PostFile.read(file)
        let generations = Array(generations.filter(\.applied).reversed())
        // Exactly, while the bytes are each rewrite's output; by content from the first that is not.
        var current = bytes
        var splices: [Splice] = []
        var exact = true
        var forgotten: [(generation: Int, rangeStart: Int)] = []
        var undoneBefore = false
        for g in generations {
            // The bytes from before this rewrite and not its output: a revert killed after its rename and before
            // its record already put it back. Only its records are left to forget.
            let sha = ArchiveStore.sha256(of: current)
            if exact && sha != g.outputSHA256 && sha == g.inputSHA256 {
                forgotten += g.spans.map { (g.generation, $0.rangeStart) }
                undoneBefore = true
                continue
            }
            let step = RevertStep(
                spans: g.spans.map {
                    RevertStep.Span(
                        range: $0.rangeStart..<$0.rangeEnd, replacement: Array($0.replacement.utf8),
                        original: Array($0.original), before: Array($0.contextBefore), after: Array($0.contextAfter))
                })
            var applied: [Splice]
            var notFound: [Int] = []
            if exact, sha == g.outputSHA256, let undone = step.undoExactly(current) {
                (current, applied) = undone
            } else {
                exact = false
                (current, applied, notFound) = step.undoByContent(current)
            }
            splices = Splice.compose(splices, then: applied)
            for (i, span) in g.spans.enumerated() {
                if notFound.contains(i) {
                    outcome.notFound.append(span.url)
                } else {
                    forgotten.append((g.generation, span.rangeStart))
                    outcome.reverted += 1
                }
            }
        }
        if !exact {
            var message = "\(shown) was edited after it was rewritten: its local links were found by content"
            if !outcome.notFound.isEmpty {
                message +=
                    "; \(outcome.notFound.count) no longer in the post stayed as they are (their original "
                    + "URLs are kept in the manifest): " + outcome.notFound.joined(separator: ", ")
            }
            outcome.message = message
        }
        if current == bytes { outcome.status = .unchanged }
        if undoneBefore && outcome.message == nil {
            outcome.message = "\(shown): an interrupted revert had already put back some of its rewrites"
        }
        if settings.dryRun {
            outcome.diff = UnifiedDiff.render(path: shown, old: bytes, splices: splices)
            return (outcome, nil)
        }
        let newSHA = ArchiveStore.sha256(of: current)
        return (
            outcome,
            StagedRevert(
                staged: current == bytes
                    ? nil : try PostFile.stage(file, target: target, expected: bytes, with: current, spares: spares),
                revert: outcome.notFound.isEmpty
                    ? PostRevert(post: key, contentSHA256: newSHA) : PostRevert(post: key, forgetting: forgotten),
                scan: PostReferences(
                    post: fileKey, contentSHA256: newSHA,
                    references: settings.scanner.scan(current).references.filter(\.remote).map(
                        FetchPipeline.referenceRecord)))
        )
    }

    /// Puts a batch of reverted posts in place: their temporary files made durable together, the posts
    /// renamed, their folders synced once each, then every revert recorded in one transaction (a revert needs
    /// no record before its rename: the original bytes are what the records give back, and a post already
    /// holding them is recognised by the next revert). The temporary files were flushed already (`BatchLine`;
    /// `synced`: nil or why each failed, in the order of the batch's files); the outcomes are in `report` at the
    /// items' indices.
    private static func commit(
        _ batch: [StagedRevert], synced: [StoreError?], into report: inout RewriteReport,
        manifest: some RewriteLedger, spares: PostFile.Spares, logger: Logger
    ) async {
        guard !batch.isEmpty else { return }
        func fail(_ item: StagedRevert, _ message: String) {
            if let staged = item.staged { PostFile.discard(staged) }
            report.posts[item.index].status = .failed
            report.posts[item.index].reverted = 0
            report.posts[item.index].message = message
            logger.info("revert failed", metadata: ["post": "\(report.posts[item.index].post)"])
        }
        var live: [StagedRevert] = []
        let files = batch.compactMap(\.staged)
        var errors: [String: StoreError] = [:]
        for (staged, error) in zip(files, synced) { errors[staged.path] = error }
        for item in batch {
            let shown = report.posts[item.index].post
            if let staged = item.staged {
                if let error = errors[staged.path] {
                    fail(item, "\(shown): not reverted: \(error)")
                    continue
                }
                do {
                    guard try PostFile.moveIntoPlace(staged, spares: spares) == .replaced else {
                        report.posts[item.index].status = .changedMeanwhile
                        report.posts[item.index].reverted = 0
                        report.posts[item.index].message =
                            "\(shown) changed while it was being reverted; it was left alone: run the command again"
                        continue
                    }
                } catch {
                    fail(item, "\(shown): not reverted: \(error)")
                    continue
                }
            }
            live.append(item)
        }
        FailPoint.reach("revert-renamed")
        do {
            try PostFile.syncFolders(of: live.compactMap(\.staged), releasing: spares)
            try await manifest.recordReverts(live.map(\.revert))
            try await manifest.replaceReferences(live.map(\.scan), scannedAt: Date())
            for item in live where item.forgetKey { try await manifest.removePost(item.revert.post) }
        } catch {
            for item in live {
                report.posts[item.index].message =
                    "\(report.posts[item.index].post) was reverted, but the manifest could not record it (\(error)); "
                    + "run the command again to record it"
            }
        }
    }

    /// The folders imgarchive writes posts in: the current folder and the folder holding the archive, symbolic
    /// links resolved (read once per run).
    static func siteRoots(_ layout: ArchiveLayout) -> [String] {
        [PostFile.target(of: FileManager.default.currentDirectoryPath), layout.postBase]
    }

    /// The target of a post that lives outside the site (a symbolic link out of it), or nil: `target` is the
    /// post's path with symbolic links resolved (`PostFile.target(of:)`), `roots` the site's (`siteRoots`).
    static func outsideSite(target: String, roots: [String]) -> String? {
        roots.contains { target == $0 || target.hasPrefix($0 == "/" ? "/" : $0 + "/") } ? nil : target
    }

    /// Deletes the temporary posts an interrupted rewrite or revert left beside these files (the posts' files,
    /// symbolic links resolved: where `PostFile.stage` writes them), in the folders not in `swept`, which it adds to
    /// it (a run takes a chunk of posts at a time, each folder once). Only under the archive's lock.
    private static func removeStaleTemporaryPosts(files: [String], skipping swept: inout Set<String>, logger: Logger) {
        var previous: Substring?
        for file in files {
            // Its folder as `NSString.deletingLastPathComponent` has it for these absolute paths, without a
            // bridge per post; a folder's posts mostly follow each other.
            let slash = file.utf8.lastIndex(of: UInt8(ascii: "/"))
            let part = slash.map { file[..<($0 == file.utf8.startIndex ? file.utf8.index(after: $0) : $0)] } ?? ""
            guard part != previous else { continue }
            previous = part
            let folder = String(part)
            guard swept.insert(folder).inserted else { continue }
            let removed = (try? PostFile.removeStaleTemporaryFiles(inFolder: folder.isEmpty ? "." : folder)) ?? 0
            if removed > 0 {
                logger.info("removed temporary posts of an interrupted rewrite", metadata: ["folder": "\(folder)"])
            }
        }
    }

    /// Settles the generations a killed run recorded but may not have put in place, in every post that has
    /// some (read once per run, under the lock, before any post is written): applied when the post holds their
    /// output (or, edited since, still holds every link they wrote), forgotten otherwise. A post whose file is
    /// gone keeps them (revert looks for it by those bytes).
    private static func settlePending(_ manifest: some RewriteLedger, layout: ArchiveLayout) async throws {
        for post in try await manifest.postsWithPendingRewrites() {
            guard let bytes = try? PostFile.read(layout.postPath(post)) else { continue }
            let sha = ArchiveStore.sha256(of: bytes)
            for g in try await manifest.rewriteGenerations(post: post) where !g.applied {
                let inPlace =
                    g.outputSHA256 == sha
                    || (g.inputSHA256 != sha && !g.spans.isEmpty
                        && g.spans.allSatisfy {
                            !RevertStep.occurrences(of: Array($0.replacement.utf8), in: bytes).isEmpty
                        })
                if inPlace {
                    try await manifest.markRewriteApplied(post: post, generation: g.generation)
                } else {
                    try await manifest.discardRewrite(post: post, generation: g.generation)
                }
            }
        }
    }
}

/// Points where a test kills the process (`IMGARCHIVE_FAILPOINT=<name>`: SIGKILL on reaching it), to show
/// what a crash at that very moment leaves; unset, a check of one static string.
enum FailPoint {
    private static let armed = ProcessInfo.processInfo.environment["IMGARCHIVE_FAILPOINT"]

    static func reach(_ name: String) {
        if armed == name { kill(getpid(), SIGKILL) }
    }
}
/// What the archive holds for each URL of the posts, read once from the manifest.
struct Catalog: Sendable {
    /// How many URLs' records are read at a time.
    static let chunkSize = 2_000

    private var assets: [String: ArchivedAsset] = [:]

    init(manifest: (any ArchiveLedgerReader)?, store: (any ObjectStore)?, posts: [ScannedPost]) async throws {
        guard let manifest, let store else { return }
        let urls = Array(Set(posts.flatMap { $0.references.filter(\.remote).map(\.url) }))
        var objects: [String: ArchivedAsset] = [:]
        // The records a chunk of URLs at a time: only what each URL's asset needs is kept (a big site has a
        // record per distinct URL, and the records, objects and thumbnails read whole were most of the peak).
        for start in stride(from: 0, to: urls.count, by: Self.chunkSize) {
            let records = try await manifest.urlRecords(Array(urls[start..<min(start + Self.chunkSize, urls.count)]))
            let digests = Set(records.values.compactMap(\.objectSHA256)).filter { objects[$0] == nil }
            let objectRecords = try await manifest.objects(sha256s: digests)
            let thumbnailRecords = try await manifest.thumbnails(sha256s: digests)
            for (url, record) in records {
                if let sha = record.objectSHA256 {
                    if objects[sha] == nil {
                        guard let object = objectRecords[sha] else { continue }
                        var thumbnails: [Int: String] = [:]
                        for (width, t) in thumbnailRecords[sha] ?? [:] where try store.fileExists(t.path) {
                            thumbnails[width] = t.path
                        }
                        objects[sha] =
                            try store.fileExists(object.path)
                            ? .archived(original: object.path, thumbnails: thumbnails) : .missingFile(object.path)
                        if object.format == .svg {
                            objects[sha] = try await Self.sanitizedSVG(object, manifest, store)
                        }
                    }
                    assets[url] = objects[sha]
                } else {
                    assets[url] = .failed(
                        errorClass: record.errorClass ?? .other, message: record.errorMessage ?? "no message recorded")
                }
            }
        }
        // Link targets that are pages, or that nothing has shown to be images, never hold a post back.
        let links = posts.flatMap { $0.references.filter { $0.remote && $0.kind == .linkImage } }
        if !links.isEmpty {
            for url in try await manifest.linkPages(links.map(\.url)).keys where assets[url] == nil {
                assets[url] = .notAnImage
            }
            for link in links
            where assets[link.url] == nil
                && FetchPlanning.isUnsignedLink(url: link.url, origin: link.origin)
            {
                assets[link.url] = .notAnImage
            }
        }
    }

    func asset(_ url: String) -> ArchivedAsset { assets[url] ?? .notFetched }

    /// An SVG original is never linked: its sanitized copy is, when there is one (docs/images.md, "SVG").
    private static func sanitizedSVG(
        _ object: ObjectRecord, _ manifest: any ArchiveLedgerReader, _ store: any ObjectStore
    ) async throws -> ArchivedAsset {
        guard let record = try await manifest.sanitizedSVGs(sha256s: [object.sha256])[object.sha256] else {
            return .unpublishable(
                "archived, but the SVG has no sanitized copy yet; run imgarchive fetch (it makes one)")
        }
        guard let path = record.path else { return .unpublishable(record.error ?? "the SVG cannot be published") }
        guard try store.fileExists(path) else { return .missingFile(path) }
        return .archived(original: path, thumbnails: [:])
    }
}
