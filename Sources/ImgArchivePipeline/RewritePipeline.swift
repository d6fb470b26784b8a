public import Foundation
public import ImgArchiveCore
public import Logging
import ImgArchiveStore

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
    /// The remote references left as they are, and why.
    public var leftRemote: [LeftRemote] = []
    /// What went wrong or what to know.
    public var message: String?
    /// A unified diff of the change (dry run only).
    public var diff: String?
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
    public static func run(posts: [ScannedPost], settings: RewriteSettings, logger: Logger) throws -> RewriteReport {
        // Without a manifest nothing is archived: plan (everything stays remote) without creating an archive.
        let hasManifest = FileManager.default.fileExists(atPath: ArchiveLayout(root: settings.archiveRoot).manifestURL.path)
        if settings.dryRun || !hasManifest {
            return try rewrite(posts: posts, settings: settings, lock: nil, logger: logger)
        }
        let lock = try ArchiveLock.acquire(settings.archiveRoot)
        defer { lock.release() }
        return try rewrite(posts: posts, settings: settings, lock: lock, logger: logger)
    }

    /// The rewrite itself, with the lock already held (nil only in a dry run).
    static func rewrite(posts: [ScannedPost], settings: RewriteSettings, lock: ArchiveLock?, logger: Logger) throws
        -> RewriteReport
    {
        let layout = ArchiveLayout(root: settings.archiveRoot)
        let manifest: Manifest? =
            FileManager.default.fileExists(atPath: layout.manifestURL.path) || lock != nil
            ? try Manifest(layout: layout) : nil
        defer { try? manifest?.close() }
        let catalog = try Catalog(
            manifest: manifest, store: manifest == nil ? nil : try ArchiveStore(root: settings.archiveRoot), posts: posts)
        if lock != nil {
            for folder in Set(posts.map { ($0.path as NSString).deletingLastPathComponent }) {
                let removed = (try? PostFile.removeStaleTemporaryFiles(inFolder: folder.isEmpty ? "." : folder)) ?? 0
                if removed > 0 { logger.info("removed temporary posts of an interrupted rewrite", metadata: ["folder": "\(folder)"]) }
            }
        }
        var report = RewriteReport()
        for post in posts {
            let plan = RewritePlan(
                references: post.references, postPath: post.path, linker: settings.linker, asset: catalog.asset)
            var outcome = PostRewriteOutcome(post: post.path, status: .unchanged, leftRemote: plan.leftRemote)
            guard !plan.rewrites.isEmpty else {
                report.posts.append(outcome)
                continue
            }
            do {
                outcome = try rewriteOne(post, plan: plan, outcome: outcome, settings: settings, manifest: manifest)
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
        manifest: Manifest?
    ) throws -> PostRewriteOutcome {
        var outcome = outcome
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
        let now = Date()
        try manifest.replaceReferences(
            post: post.path, contentSHA256: post.contentSHA256, scannedAt: now,
            references: post.references.filter(\.remote).map(FetchPipeline.referenceRecord))
        try settlePending(post.path, currentSHA256: post.contentSHA256, manifest: manifest)
        let newSHA = ArchiveStore.sha256(of: newBytes)
        let records = zip(plan.rewrites, ranges).map { rewrite, range in
            RewriteRecord(
                rangeStart: range.lowerBound, rangeEnd: range.upperBound, replacement: rewrite.replacement,
                original: Data(bytes[rewrite.reference.range]), url: rewrite.reference.url, rewrittenAt: now)
        }
        var generation: Int?
        let written = try PostFile.replace(post.path, expected: bytes, with: newBytes) {
            generation = try manifest.recordRewrite(
                post: post.path, inputSHA256: post.contentSHA256, outputSHA256: newSHA, rewrites: records, at: now)
        }
        guard written == .replaced, let generation else {
            outcome.status = .changedMeanwhile
            outcome.rewrites = []
            outcome.message = "\(post.path) changed while it was being rewritten; it was left alone: run the command again"
            return outcome
        }
        try manifest.markRewriteApplied(post: post.path, generation: generation)
        try recordScan(post.path, bytes: newBytes, scanner: settings.scanner, manifest: manifest, at: now)
        return outcome
    }

    /// Puts back the exact original bytes of every rewritten reference in the posts under `paths` (all
    /// posts with rewrites when empty), newest rewrite first. A post edited since its rewrite is reverted by
    /// finding each local link in order; links no longer there are counted in the message.
    public static func revert(paths: [String], settings: RewriteSettings, logger: Logger) throws -> RewriteReport {
        let layout = ArchiveLayout(root: settings.archiveRoot)
        guard FileManager.default.fileExists(atPath: layout.manifestURL.path) else { return RewriteReport() }
        let lock: ArchiveLock? = settings.dryRun ? nil : try ArchiveLock.acquire(settings.archiveRoot)
        defer { lock?.release() }
        let manifest = try Manifest(layout: layout)
        defer { try? manifest.close() }
        let prefixes = paths.map { p -> String in
            var s = URL(fileURLWithPath: p).standardizedFileURL.path
            while s.count > 1 && s.hasSuffix("/") { s.removeLast() }
            return s
        }
        var report = RewriteReport()
        for post in try manifest.rewrittenPosts() {
            let absolute = URL(fileURLWithPath: post).standardizedFileURL.path
            guard prefixes.isEmpty || prefixes.contains(where: { absolute == $0 || absolute.hasPrefix($0 == "/" ? "/" : $0 + "/") })
            else { continue }
            var outcome = PostRewriteOutcome(post: post, status: .reverted)
            do {
                outcome = try revertOne(post, settings: settings, manifest: manifest)
            } catch {
                outcome.status = .failed
                outcome.message = "\(post): not reverted: \(error)"
            }
            report.posts.append(outcome)
        }
        return report
    }

    private static func revertOne(_ post: String, settings: RewriteSettings, manifest: Manifest) throws
        -> PostRewriteOutcome
    {
        var outcome = PostRewriteOutcome(post: post, status: .reverted)
        let bytes = try PostFile.read(post)
        let sha = ArchiveStore.sha256(of: bytes)
        if !settings.dryRun { try settlePending(post, currentSHA256: sha, manifest: manifest) }
        let generations = try manifest.rewriteGenerations(post: post).filter(\.applied).reversed()
        let steps = generations.map { g in
            RevertStep(
                spans: g.spans.map {
                    RevertStep.Span(
                        range: $0.rangeStart..<$0.rangeEnd, replacement: Array($0.replacement.utf8),
                        original: Array($0.original))
                })
        }
        // Exactly, while the bytes are each rewrite's output; by content from the first that is not.
        var current = bytes
        var missing = 0
        var exact = true
        for (g, step) in zip(generations, steps) {
            if exact, ArchiveStore.sha256(of: current) == g.outputSHA256, let undone = step.undoExactly(current) {
                current = undone
            } else {
                exact = false
                let (undone, notFound) = step.undoByContent(current)
                current = undone
                missing += notFound
            }
            outcome.reverted += step.spans.count
        }
        outcome.reverted -= missing
        if !exact {
            outcome.message =
                "\(post) was edited after it was rewritten: its local links were found by content"
                + (missing > 0 ? "; \(missing) no longer in the post stayed as they are" : "")
        }
        if settings.dryRun || current == bytes {
            if current == bytes { outcome.status = .unchanged }
            return outcome
        }
        guard try PostFile.replace(post, expected: bytes, with: current) == .replaced else {
            outcome.status = .changedMeanwhile
            outcome.message = "\(post) changed while it was being reverted; it was left alone: run the command again"
            return outcome
        }
        let newSHA = ArchiveStore.sha256(of: current)
        try manifest.recordRevert(post: post, contentSHA256: newSHA)
        try recordScan(post, bytes: current, scanner: settings.scanner, manifest: manifest, at: Date())
        return outcome
    }

    /// Settles the generations a killed run recorded but may not have put in place: applied when the post
    /// holds their output, forgotten otherwise.
    private static func settlePending(_ post: String, currentSHA256: String, manifest: Manifest) throws {
        for g in try manifest.rewriteGenerations(post: post) where !g.applied {
            if g.outputSHA256 == currentSHA256 {
                try manifest.markRewriteApplied(post: post, generation: g.generation)
            } else {
                try manifest.discardRewrite(post: post, generation: g.generation)
            }
        }
    }

    /// Records the post's bytes as written now: its hash and the references still remote in it.
    private static func recordScan(
        _ post: String, bytes: [UInt8], scanner: PostScanner, manifest: Manifest, at date: Date
    ) throws {
        let scan = scanner.scan(bytes)
        try manifest.replaceReferences(
            post: post, contentSHA256: ArchiveStore.sha256(of: bytes), scannedAt: date,
            references: scan.references.filter(\.remote).map(FetchPipeline.referenceRecord))
    }
}

/// What the archive holds for each URL of the posts, read once from the manifest.
private struct Catalog {
    private var assets: [String: ArchivedAsset] = [:]

    init(manifest: Manifest?, store: ArchiveStore?, posts: [ScannedPost]) throws {
        guard let manifest, let store else { return }
        let urls = Array(Set(posts.flatMap { $0.references.filter(\.remote).map(\.url) }))
        var objects: [String: ArchivedAsset] = [:]
        for (url, record) in try manifest.urlRecords(urls) {
            if let sha = record.objectSHA256 {
                if objects[sha] == nil {
                    guard let object = try manifest.object(sha256: sha) else { continue }
                    var thumbnails: [Int: String] = [:]
                    for t in try manifest.thumbnails(sha256: sha) where try store.fileExists(t.path) {
                        thumbnails[t.width] = t.path
                    }
                    objects[sha] =
                        try store.fileExists(object.path)
                        ? .archived(original: object.path, thumbnails: thumbnails) : .missingFile(object.path)
                }
                assets[url] = objects[sha]
            } else {
                assets[url] = .failed(
                    errorClass: record.errorClass ?? "other", message: record.errorMessage ?? "no message recorded")
            }
        }
    }

    func asset(_ url: String) -> ArchivedAsset { assets[url] ?? .notFetched }
}
