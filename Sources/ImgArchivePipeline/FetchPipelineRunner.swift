import Foundation
import ImgArchiveCore
import ImgArchiveFetch
import ImgArchiveImage
import ImgArchiveStore
import Logging
import Synchronization

/// The I/O of one run: downloads and thumbnails, bounded, with progress.
final class Runner: Sendable {
    let settings: FetchSettings
    let store: any ObjectStore
    let manifest: any FetchLedger
    /// Which URLs this worker fetches, and the hosts' request slots shared with other workers.
    let coordinator: any WorkCoordinator
    let logger: Logger
    let progress: (@Sendable (FetchProgress) -> Void)?
    private let state = Mutex(FetchProgress())
    private let diskFullMessage = Mutex<String?>(nil)
    /// The first disk-full failure of the run, if any: no download starts after it.
    var diskFull: String? { diskFullMessage.withLock { $0 } }
    /// The failure class of URLs a full disk failed or stopped.
    static let diskFullClass = FailureClass.diskFull
    /// Subfolders of `tmp/` the downloads' temporary files are spread over, round robin (see `fetch`).
    private let temporaryFolders: [String]
    private let nextFolder = Atomic<Int>(0)

    /// How many subfolders of `tmp/` take the downloads' temporary files.
    static let temporaryFolderCount = 4

    init(
        settings: FetchSettings, store: any ObjectStore, manifest: any FetchLedger,
        coordinator: any WorkCoordinator = LocalCoordinator(), logger: Logger,
        progress: (@Sendable (FetchProgress) -> Void)?
    ) {
        self.settings = settings
        self.store = store
        self.manifest = manifest
        self.coordinator = coordinator
        self.logger = logger
        self.progress = progress
        temporaryFolders = (0..<Self.temporaryFolderCount).map {
            store.temporaryDirectory.appendingPathComponent("fetch-\($0)", isDirectory: true).path
        }
    }

    /// Commits into the archive, as verify's repair does.
    private var writer: ArchiveWriter { ArchiveWriter(store: store, manifest: manifest) }

    func advance(failed: Bool, bytes: Int64) {
        let snapshot = state.withLock {
            $0.done += 1
            if failed { $0.failed += 1 }
            $0.bytes += bytes
            return $0
        }
        progress?(snapshot)
    }

    /// Fetches the items `needs` names, those this worker claims (all of them, with one process); `plannedAt`
    /// is when `needs` was read (a URL some worker tried since is left to that worker's outcome);
    /// `rescueLookups`: when each failing URL was last looked up at the web archives (`Rescuer`). A run that
    /// fetches a site a chunk at a time calls it once per chunk: the progress counts the chunks' URLs so far.
    func fetch(
        items: [FetchItem], needs: [String: FetchNeed], plannedAt: Date = Date(),
        rescueLookups: [String: Date] = [:]
    ) async throws -> [URLOutcome] {
        var outcomes = items.map {
            URLOutcome(url: $0.url, status: .alreadyArchived, post: $0.post)
        }
        let work = items.indices.filter { needs[items[$0].url] != nil }
        let snapshot = state.withLock {
            $0.total += work.count
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
        let observers: [any FetchObserver] = [recorder] + settings.observers
        // The recorder is a child task of this run: it ends when its stream does (`finish`), after its last write.
        async let recorded = recorder.run()
        do {
            try await Rescuer.with(
                settings.rescue, download: settings.download, lastLookups: rescueLookups, logger: logger
            ) { rescuer in
                try await download(
                    work: work, items: items, needs: needs, plannedAt: plannedAt, observers: observers,
                    rescuer: rescuer, into: &outcomes)
            }
        } catch {
            recorder.finish()
            _ = await recorded
            throw error
        }
        recorder.finish()
        for (index, corrected) in await recorded { outcomes[index] = corrected }
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

    /// Downloads the items at `work`'s indices, a window at a time, and publishes each one's events. The window
    /// is filled with the URLs this worker claims (`coordinator`): with other workers on the same manifest, a URL
    /// another one holds is asked for again until it is settled or its claim expires.
    private func download(
        work: [Int], items: [FetchItem], needs: [String: FetchNeed], plannedAt: Date,
        observers: [any FetchObserver], rescuer: Rescuer?, into outcomes: inout [URLOutcome]
    ) async throws {
        let coordinator = coordinator
        try await Downloader.withDownloader(options: settings.download, logger: logger) { downloader in
            // A window of waiting downloads keeps memory flat however many URLs there are; the downloader
            // itself never runs more than `jobs` transfers.
            let window = max(64, settings.download.jobs * 4)
            var unclaimed: [String] = []
            var indices: [String: [Int]] = [:]
            for index in work {
                if indices[items[index].url] == nil { unclaimed.append(items[index].url) }
                indices[items[index].url, default: []].append(index)
            }
            var ready: [Int] = []
            var running = 0
            try await withThrowingTaskGroup(of: (Int, URLOutcome, FetchOutcome?).self) { group in
                func addNext() {
                    guard let index = ready.popLast(), diskFull == nil else { return }
                    running += 1
                    let item = items[index]
                    let need = needs[item.url] ?? FetchNeed(url: item.url, reason: .new)
                    group.addTask {
                        let (outcome, row) = await self.fetchOne(
                            item, need: need, downloader: downloader, rescuer: rescuer, observers: observers)
                        return (index, outcome, row)
                    }
                }
                /// Claims more URLs once half the window is free.
                func claimMore() async throws {
                    guard !unclaimed.isEmpty, running + ready.count <= window / 2, diskFull == nil else { return }
                    let batch = try await coordinator.claim(
                        unclaimed, limit: window - running - ready.count, since: plannedAt)
                    let taken = Set(batch.claimed).union(batch.settled)
                    // One process claims the URLs offered first: drop that prefix without hashing every URL left
                    // (a search of the whole list per claim made the run quadratic: 4 % of its CPU at 16,100 URLs).
                    var prefix = 0
                    while prefix < min(taken.count, unclaimed.count), taken.contains(unclaimed[prefix]) {
                        prefix += 1
                    }
                    unclaimed.removeFirst(prefix)
                    if prefix < taken.count { unclaimed.removeAll { taken.contains($0) } }
                    ready += batch.claimed.reversed().flatMap { indices[$0] ?? [] }
                }
                while true {
                    try await claimMore()
                    while !ready.isEmpty && running < window && diskFull == nil { addNext() }
                    if running == 0 {
                        guard !unclaimed.isEmpty, diskFull == nil else { break }
                        // Every URL left is held by another worker: ask again shortly.
                        try await Task.sleep(for: .milliseconds(250))
                        continue
                    }
                    guard let (index, outcome, row) = try await group.next() else { break }
                    running -= 1
                    // An outcome with no row settles nothing in the manifest: its claim says it is done.
                    if row == nil { try? await coordinator.markDone([outcome.url], at: Date()) }
                    outcomes[index] = outcome
                    for observer in observers { observer.observe(.outcome(index: index, outcome: outcome, row: row)) }
                }
            }
        }
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
    private func fetchOne(
        _ item: FetchItem, need: FetchNeed, downloader: Downloader, rescuer: Rescuer?, observers: [any FetchObserver]
    ) async -> (URLOutcome, FetchOutcome?) {
        var outcome = URLOutcome(url: item.url, status: .failed, post: item.post)
        var candidates = FetchPlanning.candidates(for: item)
        if need.reason == .revalidate { candidates = [need.archivedFrom ?? item.url] }
        var lastError: FetchError?
        var errors: [(url: String, message: String)] = []
        var failures: [FetchError] = []
        for candidate in candidates {
            let request = makeRequest(candidate, need: need)
            let result = await downloadInHostSlot(request, downloader: downloader)
            let events: [FetchEvent]
            switch result {
            case .success(let download): events = FetchEvent.exchange(download)
            case .failure(let error): events = [.failed(url: candidate, error: error)]
            }
            for event in events { for observer in observers { observer.observe(event) } }
            switch result {
            case .success(let download):
                do {
                    let row: FetchOutcome
                    if download.notModified {
                        row = .notModified(.init(url: item.url, httpStatus: download.httpStatus, at: Date()))
                        outcome.status = .notModified
                        outcome.archivedFrom = candidate
                        outcome.httpStatus = download.httpStatus
                    } else {
                        (outcome, row) = try commit(download, item: item, candidate: candidate)
                    }
                    if !download.exchanges.isEmpty {
                        let capture = capture(download, candidate: candidate, row: row)
                        for observer in observers { observer.observe(.captured(capture)) }
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
            if let e = lastError {
                errors.append((candidate, e.explanation))
                failures.append(e)
            }
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
                        "a link not known as an image could not be checked (\(error.code)): left alone"
                    return (outcome, nil)
                }
                outcome.message =
                    "a link to a page (\(error.contentType ?? "HTTP \(error.httpStatus ?? 0)")): left alone"
                return (
                    outcome,
                    .linkPage(
                        .init(url: item.url, httpStatus: error.httpStatus, contentType: error.contentType, at: Date()))
                )
            }
        }
        // Dead for good on the web: the web archives may still have it (docs/web-archives.md).
        var rescue: (note: String?, checkedAt: Date?) = (nil, nil)
        if let rescuer, need.reason != .revalidate {
            switch await rescueAfterFailure(item, failures: failures, rescuer: rescuer, observers: observers) {
            case .done(let rescued, let row): return (rescued, row)
            case .notRescued(let note, let checkedAt): rescue = (note, checkedAt)
            }
        }
        outcome.errorClass = error.code
        outcome.httpStatus = error.httpStatus
        outcome.message = Self.describe(errors, url: item.url) + (rescue.note.map { "; web archives: " + $0 } ?? "")
        let row = FetchOutcome.failed(
            .init(
                url: item.url, failureClass: error.code, message: outcome.message ?? error.explanation,
                httpStatus: error.httpStatus, attempts: error.attempts, at: Date(), rescueCheckedAt: rescue.checkedAt))
        logger.info("fetch failed", metadata: ["url": "\(item.url)", "class": "\(error.code)"])
        advance(failed: true, bytes: 0)
        return (outcome, row)
    }

    /// Downloads once this worker holds one of the host's request slots (shared by every worker on the manifest),
    /// and gives the slot back after. When the slots cannot be asked for (the database is away longer than its
    /// reconnect patience), the download fails as the request would.
    private func downloadInHostSlot(_ request: DownloadRequest, downloader: Downloader) async -> Result<
        Download, FetchError
    > {
        let host = Downloader.hostKey(request.url)
        var pause = 5
        while true {
            do {
                if let slot = try await coordinator.takeHostSlot(host, limit: settings.download.perHost) {
                    let result = await downloader.download(request)
                    await coordinator.releaseHostSlot(slot)
                    return result
                }
            } catch {
                return .failure(
                    FetchError(
                        code: .other, url: request.url, attempts: 0,
                        message: "the host's request slots could not be asked for (\(error)); run again"))
            }
            // Every slot is in use by some worker: wait a little (more each time, up to 100 ms).
            try? await Task.sleep(for: .milliseconds(pause + Int.random(in: 0...pause)))
            pause = min(pause * 2, 100)
        }
    }

    /// A URL the full disk failed: no row is recorded (the manifest may not take one either).
    static func diskFullOutcome(_ item: FetchItem) -> URLOutcome {
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

    func nextTemporaryFolder() -> String {
        temporaryFolders[nextFolder.wrappingAdd(1, ordering: .relaxed).oldValue % temporaryFolders.count]
    }

    private func makeRequest(_ url: String, need: FetchNeed) -> DownloadRequest {
        settings.request(url, temporaryDirectory: nextTemporaryFolder(), need: need)
    }

    /// Moves a downloaded image to its content address; returns the outcome and the manifest row to record.
    func commit(_ download: Download, item: FetchItem, candidate: String) throws -> (URLOutcome, FetchOutcome) {
        let object = try writer.commitOriginal(download)
        let row = FetchOutcome.archived(
            .init(
                url: item.url, archivedFrom: candidate, object: object, httpStatus: download.httpStatus,
                etag: download.etag, lastModified: download.lastModified, attempts: download.attempts,
                at: object.createdAt))
        let outcome = URLOutcome(
            url: item.url, status: .archived, archivedFrom: candidate, objectPath: object.path,
            httpStatus: download.httpStatus,
            post: item.post)
        return (outcome, row)
    }

    /// What a download archived, for `FetchEvent.captured`.
    private func capture(_ download: Download, candidate: String, row: FetchOutcome) -> FetchCapture {
        guard case .archived(let archived) = row else {
            return FetchCapture(url: candidate, exchanges: download.exchanges)
        }
        return FetchCapture(
            url: candidate, exchanges: download.exchanges, object: archived.object,
            bodyFile: try? store.fileForReading(archived.object.path), headedDigest: download.headedDigest,
            heldBody: download.heldBody)
    }

    /// Makes the missing derivatives of every archived item at the widths its posts show, on a pool no wider
    /// than the cores. `records` are the manifest's URL records read after this run's downloads.
    func makeThumbnails(items: [FetchItem], records: [String: URLRecord], options: ThumbnailOptions) async throws
        -> (Int, [ThumbnailFailure])
    {
        var jobs: [(object: ObjectRecord, width: Int)] = []
        var seen = Set<String>()
        let wanted = items.filter { !$0.widths.isEmpty }
        let shas = wanted.compactMap { records[$0.url]?.objectSHA256 }
        let objects = try await manifest.objects(sha256s: shas)
        let made = try await manifest.thumbnails(sha256s: shas)
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
        return await withTaskGroup(of: MadeThumbnail.self) { group in
            var next = 0
            var made = 0
            var failures: [ThumbnailFailure] = []
            var rows: [(objectPath: String, row: ThumbnailRecord)] = []
            func addNext() {
                guard next < jobs.count else { return }
                let job = jobs[next]
                next += 1
                group.addTask { await self.thumbnail(job.object, width: job.width, options: options, memory: memory) }
            }
            for _ in 0..<cores { addNext() }
            while let result = await group.next() {
                switch result {
                case .made(let objectPath, let row?): rows.append((objectPath, row))
                case .made(_, nil): made += 1
                case .failed(let failure): failures.append(failure)
                }
                if rows.count >= Self.thumbnailBatch {
                    (made, failures) = await recordThumbnails(rows, made: made, failures: failures)
                    rows = []
                }
                addNext()
            }
            return await recordThumbnails(rows, made: made, failures: failures)
        }
    }

    /// Thumbnail rows written in one transaction.
    static let thumbnailBatch = 256

    /// What became of one derivative: made (with its row to record, nil when none was needed), or failed.
    private enum MadeThumbnail: Sendable {
        case made(objectPath: String, ThumbnailRecord?)
        case failed(ThumbnailFailure)
    }

    /// Writes the rows of derivatives whose files are durable, in one transaction; if it fails, each row alone,
    /// so one bad row fails only its derivative. Returns the counts with these rows added.
    private func recordThumbnails(
        _ rows: [(objectPath: String, row: ThumbnailRecord)], made: Int, failures: [ThumbnailFailure]
    ) async -> (Int, [ThumbnailFailure]) {
        guard !rows.isEmpty else { return (made, failures) }
        do {
            try await manifest.recordThumbnails(rows.map(\.row))
            return (made + rows.count, failures)
        } catch {
            logger.info("thumbnail batch failed; recording one by one", metadata: ["error": "\(error)"])
        }
        var (made, failures) = (made, failures)
        for (objectPath, row) in rows {
            do {
                try await manifest.recordThumbnail(row)
                made += 1
            } catch {
                failures.append(
                    ThumbnailFailure(
                        objectPath: objectPath, derivative: .thumbnail(width: row.width), message: "\(error)"))
            }
        }
        return (made, failures)
    }

    /// Makes one derivative once its memory estimate fits the run's budget; returns its row to record (nil when
    /// no derivative is needed at that width), or the failure. An image over the whole budget is not waited for:
    /// `makeThumbnail` refuses it at once.
    private func thumbnail(_ object: ObjectRecord, width: Int, options: ThumbnailOptions, memory: MemoryGate) async
        -> MadeThumbnail
    {
        func failure(_ error: any Error) -> MadeThumbnail {
            .failed(
                ThumbnailFailure(objectPath: object.path, derivative: .thumbnail(width: width), message: "\(error)"))
        }
        let input: String
        do {
            input = try store.fileForReading(object.path).path
        } catch {
            return failure(error)
        }
        let bytes = (try? thumbnailMemoryEstimate(inputPath: input, width: width)) ?? 0  // a bad header fails below
        let admitted = await memory.acquire(bytes)
        defer { if admitted { memory.release(bytes) } }
        do {
            // Each derivative is made durable before its row (posts will link to it): its file is synced and
            // renamed here, on as many tasks as there are cores, so their syncs overlap; the rows follow in
            // batches (`recordThumbnails`).
            return .made(
                objectPath: object.path,
                try await writer.makeDerivative(
                    originalSHA256: object.sha256, originalPath: object.path, width: width,
                    suffix: object.format.fileExtension, options: options, record: false))
        } catch {
            return failure(error)
        }
    }
}
