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
        // Without a manifest nothing is archived: plan (everything stays remote) without creating an archive.
        let hasManifest = try ArchiveBackend.hasManifest(
            ArchiveLayout(root: settings.archiveRoot), location: settings.manifest)
        if settings.dryRun || !hasManifest {
            return try await rewrite(posts: posts, settings: settings, lock: nil, logger: logger)
        }
        let lock = try ArchiveLock.acquire(settings.archiveRoot)
        defer { lock.release() }
        let report = try await rewrite(posts: posts, settings: settings, lock: lock, logger: logger)
        if report.counts[.rewritten, default: 0] > 0 { await snapshot(settings, logger: logger) }
        return report
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

    /// The rewrite itself, with the lock already held (nil only in a dry run).
    static func rewrite(posts: [ScannedPost], settings: RewriteSettings, lock: ArchiveLock?, logger: Logger)
        async throws -> RewriteReport
    {
        let layout = ArchiveLayout(root: settings.archiveRoot)
        let backend: ArchiveBackend? =
            try ArchiveBackend.hasManifest(layout, location: settings.manifest) || lock != nil
            ? try await ArchiveBackend.open(root: settings.archiveRoot, manifest: settings.manifest) : nil
        let manifest = backend?.manifest
        defer { backend?.close() }
        let catalog = try await Catalog(manifest: manifest, store: backend?.objects, posts: posts)
        if lock != nil { removeStaleTemporaryPosts(posts.map(\.path), logger: logger) }
        var report = RewriteReport()
        // Two names for one file (a symbolic link, `./a/../a.md`) are one post: the first name is rewritten,
        // the others are skipped (rewriting again would find the post "changed meanwhile" on every run).
        var targets = Set<String>()
        for post in posts where targets.insert(Self.target(of: post.path)).inserted {
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
                outcome = try await rewriteOne(
                    post, plan: plan, outcome: outcome, settings: settings, manifest: manifest, layout: layout)
            } catch {
                outcome.status = .failed
                outcome.message = "\(post.path): not rewritten: \(error)"
                logger.info("rewrite failed", metadata: ["post": "\(post.path)"])
            }
            report.posts.append(outcome)
        }
        return report
    }

    private static func rewriteOne(
        _ post: ScannedPost, plan: RewritePlan, outcome: PostRewriteOutcome, settings: RewriteSettings,
        manifest: (any RewriteLedger)?, layout: ArchiveLayout
    ) async throws -> PostRewriteOutcome {
        var outcome = outcome
        if let target = outsideSite(post.path, layout: layout) {
            outcome.status = .unchanged
            outcome.message = "\(post.path) is a symbolic link to \(target), outside the site: read, never written"
            return outcome
        }
        let bytes = try PostFile.read(post.path)
        guard ArchiveStore.sha256(of: bytes) == post.contentSHA256 else {
            outcome.status = .changedMeanwhile
            outcome.message = "\(post.path) changed after it was scanned; it was left alone: run the command again"
            return outcome
        }
        guard let (newBytes, ranges) = Splice.apply(plan.splices, to: bytes) else {
            throw StoreError(code: .invalidArgument, path: post.path, message: "the scan's spans overlap")
        }
        outcome.rewrites = plan.rewrites
        outcome.status = .rewritten
        if settings.dryRun {
            outcome.diff = UnifiedDiff.render(path: post.path, old: bytes, splices: plan.splices)
            return outcome
        }
        guard let manifest else { return outcome }
        let key = layout.postKey(post.path)
        let now = Date()
        try await manifest.replaceReferences(
            post: key, contentSHA256: post.contentSHA256, scannedAt: now,
            references: post.references.filter(\.remote).map(FetchPipeline.referenceRecord))
        try await settlePending(key, bytes: bytes, manifest: manifest)
        let newSHA = ArchiveStore.sha256(of: newBytes)
        let records = zip(plan.rewrites, ranges).map { rewrite, range in
            let context = RevertStep.Span.context(of: range, in: newBytes)
            return RewriteRecord(
                rangeStart: range.lowerBound, rangeEnd: range.upperBound, replacement: rewrite.replacement,
                original: Data(bytes[rewrite.reference.range]), url: rewrite.reference.url, rewrittenAt: now,
                contextBefore: Data(context.before), contextAfter: Data(context.after))
        }
        var generation: Int?
        let written = try await PostFile.replace(post.path, expected: bytes, with: newBytes) {
            generation = try await manifest.recordRewrite(
                post: key, inputSHA256: post.contentSHA256, outputSHA256: newSHA, rewrites: records, at: now)
        }
        guard written == .replaced, let generation else {
            outcome.status = .changedMeanwhile
            outcome.rewrites = []
            outcome.message =
                "\(post.path) changed while it was being rewritten; it was left alone: run the command again"
            return outcome
        }
        // The post is rewritten now; a failure to record that is settled by the next run (pending generation).
        do {
            try await manifest.markRewriteApplied(post: key, generation: generation)
            try await recordScan(key, bytes: newBytes, scanner: settings.scanner, manifest: manifest, at: now)
        } catch {
            outcome.message =
                "\(post.path) was rewritten, but the manifest could not record it (\(error)); the next run records it"
        }
        return outcome
    }

    /// Puts back the exact original bytes of every rewritten reference in the posts under `paths` (all
    /// posts with rewrites when empty), newest rewrite first. A post edited since its rewrite is reverted by
    /// finding each local link by content; a post renamed since is found by its bytes among the posts under
    /// `paths`.
    public static func revert(paths: [String], settings: RewriteSettings, logger: Logger) async throws
        -> RewriteReport
    {
        let layout = ArchiveLayout(root: settings.archiveRoot)
        guard try ArchiveBackend.hasManifest(layout, location: settings.manifest) else { return RewriteReport() }
        let lock: ArchiveLock? = settings.dryRun ? nil : try ArchiveLock.acquire(settings.archiveRoot)
        defer { lock?.release() }
        let manifest = try await ArchiveBackend.openManifest(layout, location: settings.manifest)
        defer { try? manifest.close() }
        let report = try await revert(
            paths: paths, settings: settings, manifest: manifest, layout: layout, lock: lock, logger: logger)
        if lock != nil && report.posts.contains(where: { $0.reverted > 0 }) { await snapshot(settings, logger: logger) }
        return report
    }

    private static func revert(
        paths: [String], settings: RewriteSettings, manifest: some RewriteLedger, layout: ArchiveLayout,
        lock: ArchiveLock?, logger: Logger
    ) async throws -> RewriteReport {
        var report = RewriteReport()
        let filters = paths.map { layout.postPath(layout.postKey($0)) }
        func selected(_ absolute: String) -> Bool {
            filters.isEmpty || filters.contains { absolute == $0 || absolute.hasPrefix($0 == "/" ? "/" : $0 + "/") }
        }
        var missing: [(key: String, outputs: Set<String>)] = []
        var keys = Set<String>()
        let rewrittenKeys = try await manifest.rewrittenPosts()
        if lock != nil { removeStaleTemporaryPosts(rewrittenKeys.map(layout.postPath), logger: logger) }
        for key in rewrittenKeys {
            keys.insert(key)
            let file = layout.postPath(key)
            guard FileManager.default.fileExists(atPath: file) else {
                missing.append((key, Set(try await manifest.rewriteGenerations(post: key).map(\.outputSHA256))))
                continue
            }
            guard selected(file) else { continue }
            report.posts.append(
                await revertSafely(file: file, key: key, settings: settings, manifest: manifest, layout: layout))
        }
        guard !missing.isEmpty else { return report }
        // Renamed or moved posts: a post under the paths (with no records of its own) that holds the bytes a
        // missing post was rewritten to.
        var candidates: [(file: String, bytes: [UInt8])] = []
        var byHash: [String: String] = [:]
        var seen = Set<String>()
        for file in SiteWalker.posts(in: paths.isEmpty ? [layout.postBase, "."] : paths).posts {
            let key = layout.postKey(file)
            guard !keys.contains(key), seen.insert(key).inserted, let bytes = try? PostFile.read(file) else { continue }
            byHash[ArchiveStore.sha256(of: bytes)] = file
            candidates.append((file, bytes))
        }
        for (key, outputs) in missing {
            // By its bytes as rewritten; or, when the user named the posts, by holding every link it was given
            // (renamed and edited).
            var match = outputs.lazy.compactMap({ byHash[$0] }).first
            if match == nil && !paths.isEmpty {
                let links = try await manifest.rewriteGenerations(post: key).filter(\.applied).flatMap(\.spans)
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
                var outcome = await revertSafely(
                    file: file, key: key, settings: settings, manifest: manifest, layout: layout)
                if outcome.status == .reverted && !settings.dryRun { try await manifest.removePost(key) }
                outcome.message = [outcome.message, "found as \(outcome.post) (was \(layout.displayPath(key)))"]
                    .compactMap { $0 }.joined(separator: "; ")
                report.posts.append(outcome)
            } else if selected(layout.postPath(key)) {
                let shown = layout.displayPath(key)
                report.posts.append(
                    PostRewriteOutcome(
                        post: shown, status: .missing,
                        message: "\(shown) no longer exists, and no post under "
                            + (paths.isEmpty ? "the site" : paths.joined(separator: ", "))
                            + " holds its rewritten bytes: if it was renamed, give its new path; its original URLs "
                            + "stay in the manifest"))
            }
        }
        return report
    }

    private static func revertSafely(
        file: String, key: String, settings: RewriteSettings, manifest: some RewriteLedger, layout: ArchiveLayout
    ) async -> PostRewriteOutcome {
        let shown = layout.displayPath(layout.postKey(file))
        do {
            var outcome = try await revertOne(
                file: file, shown: shown, key: key, settings: settings, manifest: manifest)
            outcome.post = shown
            return outcome
        } catch {
            return PostRewriteOutcome(post: shown, status: .failed, message: "\(shown): not reverted: \(error)")
        }
    }

    private static func revertOne(
        file: String, shown: String, key: String, settings: RewriteSettings, manifest: some RewriteLedger
    ) async throws -> PostRewriteOutcome {
        var outcome = PostRewriteOutcome(post: shown, status: .reverted)
        if let target = outsideSite(file, layout: ArchiveLayout(root: settings.archiveRoot)) {
            outcome.status = .unchanged
            outcome.message = "\(shown) is a symbolic link to \(target), outside the site: read, never written"
            return outcome
        }
        let bytes = try PostFile.read(file)
        if !settings.dryRun { try await settlePending(key, bytes: bytes, manifest: manifest) }
        let generations = Array(try await manifest.rewriteGenerations(post: key).filter(\.applied).reversed())
        // Exactly, while the bytes are each rewrite's output; by content from the first that is not.
        var current = bytes
        var splices: [Splice] = []
        var exact = true
        var forgotten: [(generation: Int, rangeStart: Int)] = []
        for g in generations {
            let step = RevertStep(
                spans: g.spans.map {
                    RevertStep.Span(
                        range: $0.rangeStart..<$0.rangeEnd, replacement: Array($0.replacement.utf8),
                        original: Array($0.original), before: Array($0.contextBefore), after: Array($0.contextAfter))
                })
            var applied: [Splice]
            var notFound: [Int] = []
            if exact, ArchiveStore.sha256(of: current) == g.outputSHA256, let undone = step.undoExactly(current) {
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
        if settings.dryRun {
            outcome.diff = UnifiedDiff.render(path: shown, old: bytes, splices: splices)
            return outcome
        }
        if current != bytes {
            guard try await PostFile.replace(file, expected: bytes, with: current) == .replaced else {
                outcome.status = .changedMeanwhile
                outcome.message =
                    "\(shown) changed while it was being reverted; it was left alone: run the command again"
                return outcome
            }
        }
        if outcome.notFound.isEmpty {
            try await manifest.recordRevert(post: key, contentSHA256: ArchiveStore.sha256(of: current))
        } else {
            try await manifest.forgetRewriteSpans(post: key, spans: forgotten)
        }
        let newKey = ArchiveLayout(root: settings.archiveRoot).postKey(file)
        try await recordScan(newKey, bytes: current, scanner: settings.scanner, manifest: manifest, at: Date())
        return outcome
    }

    /// The file a post's path names, symbolic links resolved (where `PostFile.replace` writes).
    static func target(of path: String) -> String {
        URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path
    }

    /// The target of a post that lives outside the site (a symbolic link out of it), or nil. The site is the
    /// current folder and the folder holding the archive, symbolic links resolved: imgarchive writes only there.
    static func outsideSite(_ path: String, layout: ArchiveLayout) -> String? {
        let target = target(of: path)
        let roots = [Self.target(of: FileManager.default.currentDirectoryPath), layout.postBase]
        return roots.contains { target == $0 || target.hasPrefix($0 == "/" ? "/" : $0 + "/") } ? nil : target
    }

    /// Deletes the temporary posts an interrupted rewrite or revert left beside these posts (in the folders of
    /// the files they name, where `PostFile.replace` writes them). Only under the archive's lock.
    private static func removeStaleTemporaryPosts(_ paths: [String], logger: Logger) {
        for folder in Set(paths.map { (target(of: $0) as NSString).deletingLastPathComponent }) {
            let removed = (try? PostFile.removeStaleTemporaryFiles(inFolder: folder.isEmpty ? "." : folder)) ?? 0
            if removed > 0 {
                logger.info("removed temporary posts of an interrupted rewrite", metadata: ["folder": "\(folder)"])
            }
        }
    }

    /// Settles the generations a killed run recorded but may not have put in place: applied when the post
    /// holds their output (or, edited since, still holds every link they wrote), forgotten otherwise.
    private static func settlePending(_ post: String, bytes: [UInt8], manifest: some RewriteLedger) async throws {
        let sha = ArchiveStore.sha256(of: bytes)
        for g in try await manifest.rewriteGenerations(post: post) where !g.applied {
            let inPlace =
                g.outputSHA256 == sha
                || (g.inputSHA256 != sha && !g.spans.isEmpty
                    && g.spans.allSatisfy { !RevertStep.occurrences(of: Array($0.replacement.utf8), in: bytes).isEmpty })
            if inPlace {
                try await manifest.markRewriteApplied(post: post, generation: g.generation)
            } else {
                try await manifest.discardRewrite(post: post, generation: g.generation)
            }
        }
    }

    /// Records the post's bytes as written now: its hash and the references still remote in it.
    private static func recordScan(
        _ post: String, bytes: [UInt8], scanner: PostScanner, manifest: some RewriteLedger, at date: Date
    ) async throws {
        let scan = scanner.scan(bytes)
        try await manifest.replaceReferences(
            post: post, contentSHA256: ArchiveStore.sha256(of: bytes), scannedAt: date,
            references: scan.references.filter(\.remote).map(FetchPipeline.referenceRecord))
    }
}

/// What the archive holds for each URL of the posts, read once from the manifest.
private struct Catalog {
    private var assets: [String: ArchivedAsset] = [:]

    init(manifest: (any ArchiveLedgerReader)?, store: (any ObjectStore)?, posts: [ScannedPost]) async throws {
        guard let manifest, let store else { return }
        let urls = Array(Set(posts.flatMap { $0.references.filter(\.remote).map(\.url) }))
        var objects: [String: ArchivedAsset] = [:]
        for (url, record) in try await manifest.urlRecords(urls) {
            if let sha = record.objectSHA256 {
                if objects[sha] == nil {
                    guard let object = try await manifest.object(sha256: sha) else { continue }
                    var thumbnails: [Int: String] = [:]
                    for t in try await manifest.thumbnails(sha256: sha) where try store.fileExists(t.path) {
                        thumbnails[t.width] = t.path
                    }
                    objects[sha] =
                        try store.fileExists(object.path)
                        ? .archived(original: object.path, thumbnails: thumbnails) : .missingFile(object.path)
                    if object.format == .svg { objects[sha] = try await Self.sanitizedSVG(object, manifest, store) }
                }
                assets[url] = objects[sha]
            } else {
                assets[url] = .failed(
                    errorClass: record.errorClass ?? .other, message: record.errorMessage ?? "no message recorded")
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
