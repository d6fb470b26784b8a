public import Foundation
public import ImgArchiveCore
public import ImgArchiveFetch
public import ImgArchiveImage
import ImgArchiveStore
public import Logging
import Synchronization

/// Settings of one fetch run (command-line options over the configuration file over defaults).
public struct FetchSettings: Sendable {
    /// The archive folder.
    public var archiveRoot: URL
    /// libcurl limits, concurrency, retries.
    public var download: DownloadOptions
    /// Re-check every archived URL with a conditional GET.
    public var revalidateAll = false
    /// Re-check archived URLs last checked longer ago than this.
    public var revalidateAfter: TimeInterval?
    /// The site's public URL: the last step of the Referer ladder.
    public var siteURL: String?
    /// Request headers per host.
    public var hostProfiles: [HostProfile] = []
    /// Thumbnail settings; nil makes no thumbnails.
    public var thumbnails: ThumbnailOptions? = ThumbnailOptions()

    /// Creates settings.
    public init(archiveRoot: URL, download: DownloadOptions) {
        self.archiveRoot = archiveRoot
        self.download = download
    }
}

/// What happened to one URL in a run.
public struct URLOutcome: Sendable, Hashable {
    /// How it ended.
    public enum Status: String, Sendable, Hashable {
        /// Fetched now and archived.
        case archived
        /// Archived by an earlier run; not fetched.
        case alreadyArchived = "already-archived"
        /// Revalidated: the server said it has not changed.
        case notModified = "not-modified"
        /// Not archived (or a revalidation failed); `errorClass` says why.
        case failed
        /// Would be fetched (dry run).
        case planned
        /// A link target (`link-image`) that is a page, not an image: left alone, not a failure.
        case notAnImageLink = "not-an-image-link"
    }

    /// The URL as written in the posts.
    public var url: String
    /// How it ended.
    public var status: Status
    /// The URL actually archived (the origin or the URL as written).
    public var archivedFrom: String?
    /// The archived object's path, relative to the archive.
    public var objectPath: String?
    /// The failure class (`dns`, `http-4xx`, `not-an-image`, ...).
    public var errorClass: String?
    /// What went wrong and what to do.
    public var message: String?
    /// The last HTTP status.
    public var httpStatus: Int?
    /// A post that references the URL.
    public var post: String?
}

/// What a run did.
public struct FetchReport: Sendable {
    /// One outcome per URL, in the order of the input.
    public var outcomes: [URLOutcome] = []
    /// Derivatives made in this run.
    public var thumbnailsMade = 0
    /// Derivatives that could not be made: object path and message.
    public var thumbnailFailures: [String] = []
    /// Set when the run stopped because the disk (or quota) is full: said once, not once per URL. The URLs it
    /// did not try are failures of class `disk-full` with no manifest row (the next run tries them as new).
    public var diskFull: String?

    /// Outcomes counted by status.
    public var counts: [URLOutcome.Status: Int] {
        outcomes.reduce(into: [:]) { $0[$1.status, default: 0] += 1 }
    }

    /// Failures counted by class.
    public var failuresByClass: [String: Int] {
        outcomes.filter { $0.status == .failed }.reduce(into: [:]) { $0[$1.errorClass ?? "other", default: 0] += 1 }
    }
}

/// Progress of a run, for a progress bar.
public struct FetchProgress: Sendable {
    /// URLs to fetch in this run.
    public var total = 0
    /// URLs finished.
    public var done = 0
    /// URLs that failed.
    public var failed = 0
    /// Bytes archived so far.
    public var bytes: Int64 = 0
}

/// A post as scanned, for the manifest.
public struct ScannedPost: Sendable {
    /// Its path.
    public var path: String
    /// The SHA-256 of its bytes.
    public var contentSHA256: String
    /// Its references.
    public var references: [ImageReference]

    /// Creates a record.
    public init(path: String, contentSHA256: String, references: [ImageReference]) {
        self.path = path
        self.contentSHA256 = contentSHA256
        self.references = references
    }
}

/// Mirrors images into the archive: plans from the manifest, downloads (origin first, then the URL as written),
/// commits by content address, records everything, and makes thumbnails at the widths posts show.
public enum FetchPipeline {
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
        // Objects are committed by rename only; the run's recorder makes them durable (each file, then the
        // folders of a batch) before the batch's manifest rows commit (see `Recorder`).
        let store = try ArchiveStore(root: settings.archiveRoot, durability: .deferred)
        let manifest = try Manifest(layout: store.layout)
        defer { try? manifest.close() }
        let stale = try store.removeStaleTemporaryFiles(holding: lock)
        if stale > 0 { logger.info("removed temporary files of an interrupted run", metadata: ["count": "\(stale)"]) }

        let now = Date()
        let keys = store.layout.postKeys(posts.map(\.path))
        try manifest.replaceReferences(
            zip(keys, posts).map { key, post in
                PostReferences(
                    post: key, contentSHA256: post.contentSHA256,
                    references: post.references.filter(\.remote).map(referenceRecord))
            }, scannedAt: now)

        let (needs, pages) = try plan(items: items, settings: settings, manifest: manifest, now: now)
        let runner = Runner(settings: settings, store: store, manifest: manifest, logger: logger, progress: progress)
        var outcomes = try await runner.fetch(items: items, needs: needs)
        for i in outcomes.indices where pages.contains(outcomes[i].url) { outcomes[i].status = .notAnImageLink }

        // Read back only the URLs that need it: those archived before (for their object's path) and those
        // shown at a width (for their thumbnails).
        let already = outcomes.indices.filter { outcomes[$0].status == .alreadyArchived }
        let shown = settings.thumbnails == nil ? [] : items.filter { !$0.widths.isEmpty }.map(\.url)
        let records = try manifest.urlRecords(already.map { outcomes[$0].url } + shown)
        let objects = try manifest.objects(sha256s: already.compactMap { records[outcomes[$0].url]?.objectSHA256 })
        for i in already {
            if let record = records[outcomes[i].url], let sha = record.objectSHA256 {
                outcomes[i].objectPath = objects[sha]?.path
                outcomes[i].archivedFrom = record.archivedFrom
            }
        }
        var report = FetchReport(outcomes: outcomes)
        report.diskFull = runner.diskFull
        if let thumbnailOptions = settings.thumbnails, report.diskFull == nil {
            (report.thumbnailsMade, report.thumbnailFailures) = try await runner.makeThumbnails(
                items: items, records: records, options: thumbnailOptions)
        }
        // Posts never link an SVG original, only its sanitized copy (docs/images.md, "SVG"): make missing ones.
        let (svgs, svgFailures) = try SVGDerivatives.makeMissing(
            archived: outcomes.compactMap { o in o.objectPath.map { (o.url, $0) } }, store: store, manifest: manifest)
        report.thumbnailsMade += svgs
        report.thumbnailFailures += svgFailures
        return report
    }

    /// What a dry run would fetch, reading the manifest when there is one and changing nothing.
    public static func dryRun(items: [FetchItem], settings: FetchSettings) throws -> [URLOutcome] {
        let layout = ArchiveLayout(root: settings.archiveRoot)
        var needs: [String: FetchNeed]
        var pages = Set<String>()
        if try layout.hasManifest() {
            let manifest = try Manifest(layout: layout)
            defer { try? manifest.close() }
            (needs, pages) = try plan(items: items, settings: settings, manifest: manifest, now: Date())
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
    private static func plan(items: [FetchItem], settings: FetchSettings, manifest: Manifest, now: Date) throws
        -> (needs: [String: FetchNeed], pages: Set<String>)
    {
        let cutoff: Date? =
            settings.revalidateAll
            ? now.addingTimeInterval(1) : settings.revalidateAfter.map { now.addingTimeInterval(-$0) }
        let list = try manifest.urlsNeedingFetch(candidates: items.map(\.url), revalidateOlderThan: cutoff)
        var needs = Dictionary(list.map { ($0.url, $0) }, uniquingKeysWith: { a, _ in a })
        let links = items.filter(\.linkOnly).map(\.url)
        guard !links.isEmpty else { return (needs, []) }
        let pages = Set(try manifest.linkPages(links).filter { page in cutoff.map { page.value >= $0 } ?? true }.keys)
        for url in pages { needs[url] = nil }
        return (needs, pages)
    }

    static func referenceRecord(_ r: ImageReference) -> ReferenceRecord {
        ReferenceRecord(
            rangeStart: r.range.lowerBound, rangeEnd: r.range.upperBound, line: r.line, column: r.column,
            kind: r.kind.rawValue, written: r.written, url: r.url, origin: r.origin == r.url ? nil : r.origin,
            width: r.width, wrapped: r.wrapped)
    }
}

/// The I/O of one run: downloads and thumbnails, bounded, with progress.
private final class Runner: Sendable {
    let settings: FetchSettings
    let store: ArchiveStore
    let manifest: Manifest
    let logger: Logger
    let progress: (@Sendable (FetchProgress) -> Void)?
    private let state = Mutex(FetchProgress())
    private let diskFullMessage = Mutex<String?>(nil)
    /// The first disk-full failure of the run, if any: no download starts after it.
    var diskFull: String? { diskFullMessage.withLock { $0 } }
    /// The failure class of URLs a full disk failed or stopped.
    static let diskFullClass = "disk-full"
    /// Subfolders of `tmp/` the downloads' temporary files are spread over, round robin (see `fetch`).
    private let temporaryFolders: [String]
    private let nextFolder = Atomic<Int>(0)

    /// How many subfolders of `tmp/` take the downloads' temporary files.
    static let temporaryFolderCount = 4

    init(
        settings: FetchSettings, store: ArchiveStore, manifest: Manifest, logger: Logger,
        progress: (@Sendable (FetchProgress) -> Void)?
    ) {
        self.settings = settings
        self.store = store
        self.manifest = manifest
        self.logger = logger
        self.progress = progress
        temporaryFolders = (0..<Self.temporaryFolderCount).map {
            store.temporaryDirectory.appendingPathComponent("fetch-\($0)", isDirectory: true).path
        }
    }

    private func advance(failed: Bool, bytes: Int64) {
        let snapshot = state.withLock {
            $0.done += 1
            if failed { $0.failed += 1 }
            $0.bytes += bytes
            return $0
        }
        progress?(snapshot)
    }

    func fetch(items: [FetchItem], needs: [String: FetchNeed]) async throws -> [URLOutcome] {
        var outcomes = items.map {
            URLOutcome(url: $0.url, status: .alreadyArchived, post: $0.post)
        }
        let work = items.indices.filter { needs[items[$0].url] != nil }
        let snapshot = state.withLock {
            $0.total = work.count
            return $0
        }
        progress?(snapshot)
        guard !work.isEmpty else { return outcomes }
        // ext4 creates a file, and renames one out of a folder, under that folder's lock, and a file system
        // without a journal scans past recently deleted inodes while holding it: with every temporary file in
        // `tmp/` itself, the body-writer lanes' creates and the commits' renames waited for each other.
        // Spread over a few subfolders they mostly do not. The subfolders are removed at the end (empty then:
        // every temporary file was committed or deleted); a killed run's are removed with its stale files.
        for folder in temporaryFolders {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        defer { for folder in temporaryFolders { _ = rmdir(folder) } }
        let recorder = Recorder(
            store: store, manifest: manifest, logger: logger, temporaryFolders: temporaryFolders,
            noteError: { [self] in noteDiskFull($0) })
        try await Downloader.withDownloader(options: settings.download, logger: logger) { downloader in
            // A window of waiting downloads keeps memory flat however many URLs there are; the downloader
            // itself never runs more than `jobs` transfers.
            let window = max(64, settings.download.jobs * 4)
            await withTaskGroup(of: (Int, URLOutcome, FetchOutcome?).self) { group in
                var next = 0
                func addNext() {
                    guard next < work.count, diskFull == nil else { return }
                    let index = work[next]
                    next += 1
                    let item = items[index]
                    let need = needs[item.url] ?? FetchNeed(url: item.url, reason: .new)
                    group.addTask {
                        let (outcome, row) = await self.fetchOne(item, need: need, downloader: downloader)
                        return (index, outcome, row)
                    }
                }
                for _ in 0..<window { addNext() }
                while let (index, outcome, row) = await group.next() {
                    outcomes[index] = outcome
                    if let row { recorder.add(row, index: index, outcome: outcome) }
                    addNext()
                }
            }
        }
        for (index, corrected) in await recorder.finish() { outcomes[index] = corrected }
        if let message = diskFull {
            // URLs not tried, and those the full disk failed: one class, no row; the summary says why once.
            for index in work where outcomes[index].status == .alreadyArchived || Self.isDiskFull(outcomes[index]) {
                outcomes[index].status = .failed
                outcomes[index].errorClass = Self.diskFullClass
                outcomes[index].message = message
            }
        }
        return outcomes
    }

    /// Notes the first disk-full failure; true when `error` is one.
    @discardableResult
    func noteDiskFull(_ error: any Error) -> Bool {
        let full: Bool
        if let error = error as? StoreError {
            full = error.code == .diskFull
        } else if let error = error as? FetchError, error.code == .io, let detail = error.detail {
            full = [ENOSPC, EDQUOT].contains { detail == String(cString: strerror($0)) }
        } else {
            full = false
        }
        if full {
            diskFullMessage.withLock {
                if $0 == nil {
                    $0 = "the archive's disk is full (\(error)); the run stopped: free some space and run again"
                }
            }
        }
        return full
    }

    private static func isDiskFull(_ outcome: URLOutcome) -> Bool {
        outcome.status == .failed && outcome.errorClass == diskFullClass
    }

    /// Fetches one URL: the origin first, then the URL as written; a revalidation asks only the URL that was
    /// archived, conditionally. Returns the outcome and the manifest row to record (by the `Recorder`).
    private func fetchOne(_ item: FetchItem, need: FetchNeed, downloader: Downloader) async
        -> (URLOutcome, FetchOutcome?)
    {
        var outcome = URLOutcome(url: item.url, status: .failed, post: item.post)
        var candidates = FetchPlanning.candidates(for: item)
        var record: URLRecord?
        if need.reason == .revalidate {
            record = try? manifest.urlRecord(item.url)
            candidates = [record?.archivedFrom ?? item.url]
        }
        var lastError: FetchError?
        var errors: [(url: String, message: String)] = []
        for candidate in candidates {
            let request = makeRequest(candidate, need: need)
            switch await downloader.download(request) {
            case .success(let download):
                do {
                    let row: FetchOutcome
                    if download.notModified {
                        row = .notModified(url: item.url, httpStatus: download.httpStatus, at: Date())
                        outcome.status = .notModified
                        outcome.archivedFrom = candidate
                        outcome.httpStatus = download.httpStatus
                    } else {
                        (outcome, row) = try commit(download, item: item, candidate: candidate)
                    }
                    advance(failed: false, bytes: Int64(download.byteCount))
                    return (outcome, row)
                } catch {
                    if let file = download.temporaryFile { try? FileManager.default.removeItem(atPath: file) }
                    if noteDiskFull(error) { return (Self.diskFullOutcome(item), nil) }
                    lastError = FetchError(
                        code: .io, url: candidate, attempts: download.attempts,
                        message:
                            "the download could not be stored in the archive (\(error)); check free space and permissions"
                    )
                }
            case .failure(let error):
                if noteDiskFull(error) { return (Self.diskFullOutcome(item), nil) }
                lastError = error
            }
            if let e = lastError { errors.append((candidate, e.explanation)) }
        }
        let error = lastError ?? FetchError(code: .other, url: item.url, attempts: 0, message: "nothing was tried")
        // A link target that answers with a page (no image/* type) is a link to a page: left alone, remembered.
        // One with no image sign is only a guess: a 4xx is remembered the same way, and any other failure is
        // no failure either (it is asked again next run).
        if item.linkOnly, need.reason != .revalidate {
            let page =
                error.code == .notAnImage && error.contentType?.lowercased().hasPrefix("image/") != true
            let unsigned = FetchPlanning.isUnsignedLink(url: item.url, origin: item.origin)
            if page || unsigned {
                outcome.status = .notAnImageLink
                outcome.httpStatus = error.httpStatus
                advance(failed: false, bytes: 0)
                guard page || error.code == .http4xx else {
                    outcome.message =
                        "a link not known as an image could not be checked (\(error.code.name)): left alone"
                    return (outcome, nil)
                }
                outcome.message =
                    "a link to a page (\(error.contentType ?? "HTTP \(error.httpStatus ?? 0)")): left alone"
                return (
                    outcome,
                    .linkPage(url: item.url, httpStatus: error.httpStatus, contentType: error.contentType, at: Date())
                )
            }
        }
        outcome.errorClass = error.code.name
        outcome.httpStatus = error.httpStatus
        outcome.message = Self.describe(errors, url: item.url)
        let row = FetchOutcome.failed(
            url: item.url, errorClass: error.code.name, message: outcome.message ?? error.explanation,
            httpStatus: error.httpStatus, attempts: error.attempts, at: Date())
        logger.info("fetch failed", metadata: ["url": "\(item.url)", "class": "\(error.code.name)"])
        advance(failed: true, bytes: 0)
        return (outcome, row)
    }

    /// A URL the full disk failed: no row is recorded (the manifest may not take one either).
    private static func diskFullOutcome(_ item: FetchItem) -> URLOutcome {
        URLOutcome(url: item.url, status: .failed, errorClass: diskFullClass, post: item.post)
    }

    /// One message for the failures of an item's candidates: the original's, then the URL's as written.
    static func describe(_ errors: [(url: String, message: String)], url: String) -> String {
        if errors.count == 2, errors[0].message == errors[1].message {
            return "the original (\(errors[0].url)) and the URL as written: \(errors[1].message)"
        }
        return errors.map { $0.url == url ? $0.message : "the original (\($0.url)): \($0.message)" }
            .joined(separator: "; as written: ")
    }

    private func nextTemporaryFolder() -> String {
        temporaryFolders[nextFolder.wrappingAdd(1, ordering: .relaxed).oldValue % temporaryFolders.count]
    }

    private func makeRequest(_ url: String, need: FetchNeed) -> DownloadRequest {
        settings.request(url, temporaryDirectory: nextTemporaryFolder(), need: need)
    }

    /// Moves a downloaded image to its content address; returns the outcome and the manifest row to record.
    private func commit(_ download: Download, item: FetchItem, candidate: String) throws -> (URLOutcome, FetchOutcome) {
        guard let file = download.temporaryFile, let format = download.format else {
            throw StoreError(code: .invalidArgument, path: nil, message: "a download without an image file")
        }
        let path = try store.commitObject(
            temporaryFile: URL(fileURLWithPath: file), sha256: download.sha256, format: format)
        let info = try? imageInfo(path: store.layout.url(for: path).path)
        let now = Date()
        let object = ObjectRecord(
            sha256: download.sha256, format: format, bytes: Int64(download.byteCount), width: info?.width,
            height: info?.height, path: path, createdAt: now)
        let row = FetchOutcome.archived(
            url: item.url, archivedFrom: candidate, object: object, httpStatus: download.httpStatus,
            etag: download.etag, lastModified: download.lastModified, attempts: download.attempts, at: now)
        let outcome = URLOutcome(
            url: item.url, status: .archived, archivedFrom: candidate, objectPath: path,
            httpStatus: download.httpStatus,
            post: item.post)
        return (outcome, row)
    }

    /// Makes the missing derivatives of every archived item at the widths its posts show, on a pool no wider
    /// than the cores. `records` are the manifest's URL records read after this run's downloads.
    func makeThumbnails(items: [FetchItem], records: [String: URLRecord], options: ThumbnailOptions) async throws
        -> (Int, [String])
    {
        var jobs: [(object: ObjectRecord, width: Int)] = []
        var seen = Set<String>()
        let wanted = items.filter { !$0.widths.isEmpty }
        let shas = wanted.compactMap { records[$0.url]?.objectSHA256 }
        let objects = try manifest.objects(sha256s: shas)
        let made = try manifest.thumbnails(sha256s: shas)
        for item in wanted {
            guard let sha = records[item.url]?.objectSHA256, let object = objects[sha],
                object.format == .jpeg || object.format == .png
            else { continue }
            for width in FetchPlanning.thumbnailWidths(requested: item.widths, imageWidth: object.width)
            where seen.insert("\(sha)/\(width)").inserted {
                if let existing = made[sha]?[width], try store.fileExists(existing.path) {
                    continue
                }
                jobs.append((object, width))
            }
        }
        guard !jobs.isEmpty else { return (0, []) }
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let memory = MemoryGate(limit: options.memoryBudget)  // one budget for the run's thumbnails
        return await withTaskGroup(of: String?.self) { group in
            var next = 0
            var made = 0
            var failures: [String] = []
            func addNext() {
                guard next < jobs.count else { return }
                let job = jobs[next]
                next += 1
                group.addTask { await self.thumbnail(job.object, width: job.width, options: options, memory: memory) }
            }
            for _ in 0..<cores { addNext() }
            while let result = await group.next() {
                if let failure = result { failures.append(failure) } else { made += 1 }
                addNext()
            }
            return (made, failures)
        }
    }

    /// Makes one derivative once its memory estimate fits the run's budget; returns a failure message, or nil
    /// when it was made. An image over the whole budget is not waited for: `makeThumbnail` refuses it at once.
    private func thumbnail(_ object: ObjectRecord, width: Int, options: ThumbnailOptions, memory: MemoryGate) async
        -> String?
    {
        let input = store.layout.url(for: object.path).path
        let bytes = (try? thumbnailMemoryEstimate(inputPath: input, width: width)) ?? 0  // a bad header fails below
        let admitted = await memory.acquire(bytes)
        defer { if admitted { memory.release(bytes) } }
        let temporary = store.makeTemporaryFileURL(suffix: object.format.fileExtension)
        do {
            let outcome = try makeThumbnail(
                inputPath: input, outputPath: temporary.path, width: width, options: options)
            guard case .written(_, let h, let format) = outcome else { return nil }
            let path = try store.thumbnailPath(sha256: object.sha256, width: width, format: format)
            let size = try? FileManager.default.attributesOfItem(atPath: temporary.path)[.size] as? NSNumber
            let bytes = size?.int64Value ?? 0
            let digest = try ArchiveStore.sha256(ofFileAt: temporary)
            // Derivatives are few and rows for them are written one by one: each is made durable before its
            // row (posts will link to it), not left to the recorder's batches.
            try ArchiveStore(root: store.layout.root, durability: .immediate)
                .commitDerivative(temporaryFile: temporary, to: path)
            try manifest.recordThumbnail(
                ThumbnailRecord(
                    objectSHA256: object.sha256, width: width, sha256: digest, height: h, format: format, bytes: bytes,
                    path: path,
                    createdAt: Date()))
            return nil
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            return "\(object.path) at \(width) px: \(error)"
        }
    }
}

/// Writes a run's manifest rows in batches, off the task that collects results.
///
/// Objects are committed with `.deferred` durability (rename only). Each archived row's object file is synced
/// (`fsync`) on the flush queue as the row arrives; a flush, queued behind those syncs, syncs the folders the
/// batch's files left and entered, then records the batch in one transaction. A batch holds only rows of objects
/// committed before it was taken, so a manifest row never points at a file that has not reached stable storage.
/// The syncs are scoped to the run's files: `syncfs` would also write out, and wait for, whatever other programs
/// left dirty on the file system. A flush starts once the oldest pending row is `interval` old (so a
/// killed run loses at most that much manifest progress; its objects stay and are found by content address on
/// the next run) and at the end of the run. One flush runs at a time, on its own queue.
private final class Recorder: Sendable {
    /// How long a row may wait before a flush starts.
    static let interval: Duration = .milliseconds(500)

    private struct Entry: Sendable {
        var index: Int
        var outcome: URLOutcome
        var row: FetchOutcome
    }

    private struct State {
        var pending: [Entry] = []
        var oldest: ContinuousClock.Instant?
        var flushing: Task<Void, Never>?
        var corrections: [(Int, URLOutcome)] = []
        /// Set by `finish`: no flush starts after it (it writes what is left itself).
        var finishing = false
    }

    private let store: ArchiveStore
    private let manifest: Manifest
    private let logger: Logger
    private let temporaryFolders: [String]
    private let queue = DispatchQueue(label: "imgarchive.fetch.recorder")
    private let state = Mutex(State())
    /// Entries (by index) whose object file could not be synced, until their batch is written.
    private let syncFailures = Mutex<[Int: any Error]>([:])

    /// Told every error that fails a row; true when it is a full disk.
    private let noteError: @Sendable (any Error) -> Bool

    init(
        store: ArchiveStore, manifest: Manifest, logger: Logger, temporaryFolders: [String],
        noteError: @escaping @Sendable (any Error) -> Bool
    ) {
        self.noteError = noteError
        self.store = store
        self.manifest = manifest
        self.logger = logger
        self.temporaryFolders = temporaryFolders
    }

    /// Queues the row of one finished URL; starts a flush when the oldest pending row is old enough and no
    /// flush is running.
    func add(_ row: FetchOutcome, index: Int, outcome: URLOutcome) {
        // The object's file is synced at once, on the flush queue: any batch holding this row is queued after
        // it, so its file is durable (or its failure known) before the batch is written.
        if case .archived(_, _, let object, _, _, _, _, _) = row {
            queue.async { [self] in
                do {
                    try store.synchronizeFile(object: object.path)
                } catch {
                    syncFailures.withLock { $0[index] = error }
                }
            }
        }
        let first = state.withLock { state in
            state.pending.append(Entry(index: index, outcome: outcome, row: row))
            let first = state.oldest == nil
            if first { state.oldest = ContinuousClock.now }
            startFlushIfDue(&state)
            return first
        }
        // Rows also get written when no other row follows (slow downloads): a flush once the first is old enough.
        if first { scheduleCheck() }
    }

    private func scheduleCheck() {
        Task { [self] in
            try? await Task.sleep(for: Self.interval)
            let again = state.withLock { state in
                startFlushIfDue(&state)
                return !state.pending.isEmpty && state.flushing != nil
            }
            if again { scheduleCheck() }
        }
    }

    /// Starts a flush of the pending rows when the oldest has waited long enough and no flush is running.
    private func startFlushIfDue(_ state: inout State) {
        guard !state.finishing, let oldest = state.oldest, ContinuousClock.now - oldest >= Self.interval,
            state.flushing == nil
        else { return }
        let batch = state.pending
        state.pending = []
        state.oldest = nil
        state.flushing = Task { [self] in
            let corrections = await self.write(batch)
            let more = self.state.withLock { state in
                state.corrections += corrections
                state.flushing = nil
                return !state.pending.isEmpty
            }
            if more { self.scheduleCheck() }
        }
    }

    /// Waits for a running flush, writes what is left, and returns the outcomes to replace: URLs whose row
    /// could not be recorded (or whose objects could not be made durable) become failures of class `io`.
    func finish() async -> [(Int, URLOutcome)] {
        let running = state.withLock { state in
            state.finishing = true
            return state.flushing
        }
        if let running { await running.value }
        let rest = state.withLock { state in
            let batch = state.pending
            state.pending = []
            state.oldest = nil
            return batch
        }
        let last = await write(rest)
        return state.withLock { $0.corrections } + last
    }

    private func write(_ batch: [Entry]) async -> [(Int, URLOutcome)] {
        guard !batch.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.writeNow(batch)) }
        }
    }

    /// Makes the batch's objects durable (their files were synced when their rows arrived; now the folders
    /// that hold them), then writes the rows in one transaction; if the transaction fails, each row alone, so one
    /// bad row fails only its URL.
    private func writeNow(_ batch: [Entry]) -> [(Int, URLOutcome)] {
        let corrections = writeRows(batch)
        let failed = Set(corrections.map(\.0))
        removeUnrecorded(batch.filter { failed.contains($0.index) })
        return corrections
    }

    private func writeRows(_ batch: [Entry]) -> [(Int, URLOutcome)] {
        var corrections: [(Int, URLOutcome)] = []
        let unsynced = syncFailures.withLock { failures in
            batch.compactMap { entry in failures.removeValue(forKey: entry.index).map { (entry.index, $0) } }
        }
        var rows = batch
        if !unsynced.isEmpty {
            let failed = Dictionary(unsynced, uniquingKeysWith: { a, _ in a })
            logger.info("archive sync failed", metadata: ["count": "\(failed.count)"])
            rows = batch.filter { failed[$0.index] == nil }
            corrections += batch.compactMap { entry in
                failed[entry.index].map { (entry.index, failure(entry.outcome, $0)) }
            }
        }
        let objects = rows.compactMap { entry -> String? in
            guard case .archived(_, _, let object, _, _, _, _, _) = entry.row else { return nil }
            return object.path
        }
        do {
            try store.synchronizeFolders(of: objects, movedFrom: temporaryFolders)
        } catch {
            logger.info("archive sync failed", metadata: ["error": "\(error)"])
            corrections += rows.compactMap { entry in
                guard case .archived = entry.row else { return nil }
                return (entry.index, failure(entry.outcome, error))
            }
            rows = rows.filter { if case .archived = $0.row { false } else { true } }
        }
        do {
            try manifest.record(rows.map(\.row))
            return corrections
        } catch {
            logger.info("manifest batch failed; recording one by one", metadata: ["error": "\(error)"])
        }
        for entry in rows {
            do {
                try manifest.record([entry.row])
            } catch {
                if case .failed = entry.row { continue }  // the URL is reported failed already
                corrections.append((entry.index, failure(entry.outcome, error)))
            }
        }
        return corrections
    }

    /// After rows could not be written: removes each object file that no row names, so a failed run leaves no
    /// file the manifest does not know (kept when the manifest cannot even say).
    private func removeUnrecorded(_ entries: [Entry]) {
        for entry in entries {
            guard case .archived(_, _, let object, _, _, _, _, _) = entry.row,
                let known = try? manifest.objects(sha256s: [object.sha256]), known[object.sha256] == nil
            else { continue }
            try? FileManager.default.removeItem(at: store.layout.url(for: object.path))
        }
    }

    private func failure(_ outcome: URLOutcome, _ error: any Error) -> URLOutcome {
        var failed = outcome
        failed.status = .failed
        failed.errorClass = noteError(error) ? Runner.diskFullClass : FetchError.Code.io.name
        failed.objectPath = nil
        failed.message =
            "the download could not be recorded in the archive (\(error)); check free space and permissions"
        return failed
    }
}
