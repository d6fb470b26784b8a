import CFileShim
import Foundation
public import ImgArchiveCore
import ImgArchiveFetch
import ImgArchiveStore
import ImgArchiveWARC
public import Logging

/// Mirrors images into the archive: plans from the manifest, downloads (origin first, then the URL as written),
/// commits by content address, records everything, and makes thumbnails at the widths posts show.
public enum FetchPipeline {
    /// How many URLs' records the read-back after the downloads reads at a time.
    static let readBackChunk = 2_000

    /// Runs a fetch under the archive's lock. Throws `StoreError` (`.locked` when another run holds the archive)
    /// or `FetchError` for set-up failures; per-URL failures are outcomes, not errors.
    public static func run(
        items: [FetchItem], posts: [ScannedPost], settings: FetchSettings, logger: Logger,
        progress: (@Sendable (FetchProgress) -> Void)? = nil
    ) async throws -> FetchReport {
        let lock = try ArchiveLock.acquire(settings.archiveRoot)
        defer { lock.release() }
        return try await run(
            items: items, posts: posts, settings: settings, logger: logger, progress: progress, holding: lock)
    }

    /// A fetch run under a lock the caller holds (the archive job keeps one lock for fetch and rewrite).
    static func run(
        items: [FetchItem], posts: [ScannedPost], settings: FetchSettings, logger: Logger,
        progress: (@Sendable (FetchProgress) -> Void)?, holding lock: ArchiveLock
    ) async throws -> FetchReport {
        var chunks = [Chunk(items: items, posts: posts)].makeIterator()
        return try await run(
            chunks: { chunks.next() }, settings: settings, logger: logger, progress: progress, holding: lock,
            keeping: { _ in true }, each: { _, _ in })
    }

    /// A chunk of a site for a fetch: its posts as scanned, and the items of their references (plus, in the last
    /// chunk, of a URL list): an item may stand for a URL an earlier chunk had already, for the widths it adds.
    struct Chunk {
        var items: [FetchItem]
        var posts: [ScannedPost]
    }

    /// A fetch run a chunk of the site at a time (`chunks` gives the next, nil at the end), under a lock the caller
    /// holds. Each chunk's posts are recorded, the URLs no earlier chunk had are planned, fetched and recorded,
    /// their thumbnails made, and the chunk and its URLs' outcomes handed to `each` (in the items' order; the job
    /// rewrites the chunk's posts there) and let go: the report's `outcomes` keep only those `keeping` says (its
    /// counts cover all). What the run holds across chunks is the set of the URLs it has seen (a URL is fetched
    /// once per run; 16 bytes each, `StringDigestSet`) and the SVG originals it archived (their sanitized copies
    /// are made at the end). The downloads of a chunk end before the next chunk is planned: the next chunk's scan
    /// and plan take a fraction of its downloads' time.
    ///
    /// A run killed between chunks leaves the manifest consistent: each post's recorded references are a scan
    /// of it (the chunks recorded so far have this run's, the others their last run's, with the hash of the
    /// bytes that scan read, so the next run scans them again if they changed), and every URL row is a finished
    /// outcome whose object is durable (the recorder's rule). The next run plans from the manifest and fetches
    /// what is missing, as after a run killed during its downloads.
    static func run(
        chunks: () async throws -> Chunk?, settings: FetchSettings, logger: Logger,
        progress: (@Sendable (FetchProgress) -> Void)?, holding lock: ArchiveLock,
        keeping keep: (URLOutcome) -> Bool, each: (Chunk, [URLOutcome]) async throws -> Void
    ) async throws -> FetchReport {
        // Objects are committed by rename only; the run's recorder makes them durable (each file, then the
        // folders of a batch) before the batch's manifest rows commit (see `Recorder`).
        let backend = try await ArchiveBackend.open(
            root: settings.archiveRoot, objects: settings.objectStore, durability: .deferred,
            manifest: settings.manifest)
        defer { backend.close() }
        let (store, manifest) = (backend.objects, backend.manifest)
        // WARC files an interrupted run left are cut back to their whole records and finished first, whether or
        // not this run writes WARC (`tmp/warc/` survives the stale-file sweep for this).
        let warcFolders = WARCObserver.folders(root: settings.archiveRoot, temporaryDirectory: store.temporaryDirectory)
        do {
            try WARCWriter.salvage(folder: warcFolders.folder, temporaryFolder: warcFolders.temporary)
        } catch {
            logger.info("an interrupted WARC file could not be finished", metadata: ["error": "\(error)"])
        }
        let stale = try store.removeStaleTemporaryFiles(holding: lock)
        if stale > 0 { logger.info("removed temporary files of an interrupted run", metadata: ["count": "\(stale)"]) }

        var settings = settings
        settings.download.imageSize = ArchiveWriter.imageSize
        let warc = settings.warc.map {
            WARCObserver(
                root: settings.archiveRoot, temporaryDirectory: store.temporaryDirectory, options: $0, logger: logger)
        }
        if let warc {
            settings.observers.append(warc)
            settings.download.captureExchanges = true
            // The response record's block digest is hashed on the body-writer lanes as the body arrives.
            settings.download.digestHead = WARCObserver.digestHead
        }
        // The WARC writer is a child task of the run, as the recorder: it ends when its stream does (`finish`).
        async let warcSummary = warc?.run()
        let coordinator = try await backend.workCoordinator()
        let runner = Runner(
            settings: settings, store: store, manifest: manifest, coordinator: coordinator, logger: logger,
            progress: progress)
        var report = FetchReport()
        // The URLs of the chunks so far (a URL is fetched once per run; 16 bytes each), and the SVG originals
        // archived.
        var seen = StringDigestSet()
        var svgs: [(url: String, path: String)] = []
        do {
            while true {
                // The free pages the last chunk left inside malloc's heaps given back before the next is read: by
                // the end of a big site they were up to a seventh of the job's peak (at 50,000 posts 86-96 -> 84-85
                // MB, a few ms a chunk).
                _ = CFileShim_trimMalloc()
                guard let chunk = try await chunks() else { break }
                let outcomes = try await fetch(
                    chunk, seen: &seen, settings: settings, manifest: manifest, layout: backend.layout,
                    runner: runner, report: &report)
                svgs += outcomes.compactMap { o in
                    o.objectPath.flatMap { $0.hasSuffix("." + ImageFormat.svg.fileExtension) ? (o.url, $0) : nil }
                }
                report.add(outcomes, keeping: keep)
                report.diskFull = runner.diskFull
                try await each(chunk, outcomes)
            }
            await coordinator.finish()
        } catch {
            await coordinator.finish()
            warc?.finish()
            _ = await warcSummary
            throw error
        }
        warc?.finish()
        report.warc = await warcSummary
        report.diskFull = runner.diskFull
        // Posts never link an SVG original, only its sanitized copy (docs/images.md, "SVG"): make missing ones.
        let (made, svgFailures) = try await SVGDerivatives.makeMissing(archived: svgs, store: store, manifest: manifest)
        report.thumbnailsMade += made
        report.thumbnailFailures += svgFailures
        return report
    }

    /// One chunk of a run: records its posts, fetches the URLs not in `seen` (adding them), reads back what the
    /// outcomes need, and makes the thumbnails of its items (into `report`). Returns the outcomes of its new URLs.
    private static func fetch(
        _ chunk: Chunk, seen: inout StringDigestSet, settings: FetchSettings, manifest: some FetchLedger,
        layout: ArchiveLayout, runner: Runner, report: inout FetchReport
    ) async throws -> [URLOutcome] {
        let now = Date()
        // Posts found unchanged (not read: their record stands) are not recorded again; after a full disk,
        // nothing is (the manifest could not take it; the posts are scanned again next run).
        let scanned = runner.diskFull == nil ? chunk.posts.filter { !$0.unchanged } : []
        let keys = layout.postKeys(of: scanned)
        try await manifest.replaceReferences(
            zip(keys, scanned).map { key, post in
                PostReferences(
                    post: key, contentSHA256: post.contentSHA256,
                    references: post.references.filter(\.remote).map(referenceRecord), file: post.file,
                    scannedWith: post.scannedWith)
            }, scannedAt: now)

        // An item of a URL an earlier chunk had is there for its widths only (thumbnails, below). A URL first
        // seen as a link target (`link-image`) and shown as an image in a later chunk was fetched as a link.
        let items = chunk.items.filter { seen.insert($0.url) }
        let (needs, pages) = try await plan(items: items, settings: settings, manifest: manifest, now: now)
        let lookups = settings.rescue == nil ? [:] : try await Rescuer.lastLookups(needs: needs, manifest: manifest)
        var outcomes = try await runner.fetch(items: items, needs: needs, plannedAt: now, rescueLookups: lookups)
        for i in outcomes.indices where pages.contains(outcomes[i].url) { outcomes[i].status = .notAnImageLink }

        // Read back only the URLs that need it: those archived before (for their object's path), a chunk at a
        // time (a rerun has every URL of the site here: their records read whole were most of its peak), and
        // those shown at a width (for their thumbnails).
        let already = outcomes.indices.filter { outcomes[$0].status == .alreadyArchived }
        for start in stride(from: 0, to: already.count, by: Self.readBackChunk) {
            let part = already[start..<min(start + Self.readBackChunk, already.count)]
            let records = try await manifest.urlRecords(part.map { outcomes[$0].url })
            let objects = try await manifest.objects(
                sha256s: part.compactMap { records[outcomes[$0].url]?.objectSHA256 })
            for i in part {
                if let record = records[outcomes[i].url], let sha = record.objectSHA256 {
                    outcomes[i].objectPath = objects[sha]?.path
                    outcomes[i].archivedFrom = record.archivedFrom
                }
            }
        }
        if let thumbnailOptions = settings.thumbnails, runner.diskFull == nil {
            let shown = chunk.items.filter { !$0.widths.isEmpty }
            let records = try await manifest.urlRecords(shown.map(\.url))
            let (made, failures) = try await runner.makeThumbnails(
                items: shown, records: records, options: thumbnailOptions)
            report.thumbnailsMade += made
            // A derivative that failed in an earlier chunk was tried again for this one: said once.
            let said = Set(report.thumbnailFailures)
            report.thumbnailFailures += failures.filter { !said.contains($0) }
        }
        return outcomes
    }

    /// What a dry run would fetch, reading the manifest when there is one and changing nothing.
    public static func dryRun(items: [FetchItem], settings: FetchSettings) async throws -> [URLOutcome] {
        let layout = ArchiveLayout(root: settings.archiveRoot)
        var needs: [String: FetchNeed]
        var pages = Set<String>()
        if try ArchiveBackend.hasManifest(layout, location: settings.manifest) {
            let manifest = try await ArchiveBackend.openManifest(layout, location: settings.manifest)
            defer { try? manifest.close() }
            (needs, pages) = try await plan(items: items, settings: settings, manifest: manifest, now: Date())
        } else {
            needs = Dictionary(
                items.map { ($0.url, FetchNeed(url: $0.url, reason: .new)) }, uniquingKeysWith: { a, _ in a })
        }
        return items.map { item in
            URLOutcome(
                url: item.url,
                status: pages.contains(item.url)
                    ? .notAnImageLink : needs[item.url] == nil ? .alreadyArchived : .planned,
                archivedFrom: nil, objectPath: nil, errorClass: nil,
                message: needs[item.url].map { need in
                    "\(need.reason.rawValue): " + FetchPlanning.candidates(for: item).joined(separator: " then ")
                }, httpStatus: nil, post: item.post)
        }
    }

    /// What to fetch, and the link targets known to be pages (not fetched again until due for revalidation).
    private static func plan(items: [FetchItem], settings: FetchSettings, manifest: some FetchLedger, now: Date)
        async throws -> (needs: [String: FetchNeed], pages: Set<String>)
    {
        let revalidation: Revalidation =
            settings.revalidateAll
            ? .all : settings.revalidateAfter.map { .checkedBefore(now.addingTimeInterval(-$0)) } ?? .never
        let list = try await manifest.urlsNeedingFetch(candidates: items.map(\.url), revalidation: revalidation)
        var needs = Rescuer.withoutRescuedRevalidations(
            Dictionary(list.map { ($0.url, $0) }, uniquingKeysWith: { a, _ in a }))
        let links = items.filter(\.linkOnly).map(\.url)
        guard !links.isEmpty else { return (needs, []) }
        let pages = Set(
            try await manifest.linkPages(links).filter { !revalidation.isDue(lastChecked: $0.value) }.keys)
        for url in pages { needs[url] = nil }
        return (needs, pages)
    }

    /// The reference a record stands for, nil for a kind this scanner does not know (the post is scanned
    /// again). Records hold remote references only; the height a CDN URL asks for is not kept (nothing after
    /// the scan uses it).
    static func reference(_ r: ReferenceRecord) -> ImageReference? {
        guard let kind = ImageReference.Kind(rawValue: r.kind), r.rangeStart <= r.rangeEnd else { return nil }
        return ImageReference(
            kind: kind, range: r.rangeStart..<r.rangeEnd, line: r.line, column: r.column, written: r.written,
            url: r.url, origin: r.origin ?? r.url, width: r.width, height: nil, wrapped: r.wrapped, remote: true)
    }

    static func referenceRecord(_ r: ImageReference) -> ReferenceRecord {
        ReferenceRecord(
            rangeStart: r.range.lowerBound, rangeEnd: r.range.upperBound, line: r.line, column: r.column,
            kind: r.kind.rawValue, written: r.written, url: r.url, origin: r.origin == r.url ? nil : r.origin,
            width: r.width, wrapped: r.wrapped)
    }
}
