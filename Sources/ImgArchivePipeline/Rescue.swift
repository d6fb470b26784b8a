public import Foundation
public import ImgArchiveCore
import ImgArchiveFetch
public import ImgArchiveStore
import Logging
import Synchronization

/// How a fetch asks web archives for images that are dead on the web (docs/web-archives.md, "Rescue from Memento
/// archives").
public struct RescueSettings: Sendable, Hashable {
    /// The Memento TimeGates asked, in order (Wayback-style: the URL is appended).
    public var timegates: [String]
    /// A URL the archives had no image for is not asked about again before this many seconds have passed.
    public var rescueAfter: TimeInterval
    /// Requests in flight at once per archive host (its own limit, apart from `--per-host`).
    public var perHost: Int

    /// The default period between two lookups of one URL: 30 days.
    public static let defaultRescueAfter: TimeInterval = 30 * 86400

    /// Creates settings; the defaults ask the Internet Archive, one request at a time, once per 30 days per URL.
    public init(
        timegates: [String] = [Memento.defaultTimeGate], rescueAfter: TimeInterval = defaultRescueAfter,
        perHost: Int = 1
    ) {
        self.timegates = timegates
        self.rescueAfter = rescueAfter
        self.perHost = max(1, perHost)
    }
}

/// What a rescue came to for one URL.
enum RescueResult: Sendable {
    /// An archive gave an image: its download (not yet committed) and where it came from.
    case rescued(Download, MementoProvenance)
    /// No archive gave an image. `asked` is true when an archive answered (the lookup counts for
    /// `rescue-after`); false when none could be reached or none was due.
    case notRescued(message: String, asked: Bool)
}

/// Asks the TimeGates for a capture of a dead image near its post's date and fetches the memento's original
/// bytes, through a downloader of its own (the same libcurl engine and address guard, with the archives' own
/// per-host limit). One per run, made by `with`.
final class Rescuer: Sendable {
    let settings: RescueSettings
    private let downloader: Downloader
    /// When each URL (that the plan found failing) was last looked up, from the manifest.
    private let lastLookups: [String: Date]
    /// TimeGates that could not be reached in this run, with why: not asked again until the next run.
    private let unreachable = Mutex<[String: String]>([:])
    /// One queue per TimeGate: its lookups run `perHost` at a time, so a lookup that finds the archive unreachable
    /// is known before the next one starts.
    private let queues: [String: LookupQueue]
    private let logger: Logger

    private init(settings: RescueSettings, downloader: Downloader, lastLookups: [String: Date], logger: Logger) {
        self.settings = settings
        self.downloader = downloader
        self.lastLookups = lastLookups
        self.logger = logger
        queues = Dictionary(
            settings.timegates.map { ($0, LookupQueue(permits: settings.perHost)) }, uniquingKeysWith: { a, _ in a })
    }

    /// Runs `body` with a rescuer when `settings` asks for one (nil otherwise), its downloader stopped after.
    static func with<R: Sendable>(
        _ settings: RescueSettings?, download: DownloadOptions, lastLookups: [String: Date], logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (Rescuer?) async throws -> R
    ) async throws -> R {
        guard let settings, !settings.timegates.isEmpty else { return try await body(nil) }
        var options = download
        options.perHost = settings.perHost
        options.jobs = settings.perHost * Set(settings.timegates.compactMap(FetchPlanning.host(of:))).count
        return try await Downloader.withDownloader(options: options, logger: logger) { downloader in
            try await body(
                Rescuer(settings: settings, downloader: downloader, lastLookups: lastLookups, logger: logger))
        }
    }

    /// Asks each TimeGate in turn, for the origin and then for the URL as written, until one gives an image.
    func rescue(
        _ item: FetchItem, now: Date, temporaryDirectory: () -> String, observers: [any FetchObserver]
    ) async -> RescueResult {
        if let last = lastLookups[item.url], now.timeIntervalSince(last) < settings.rescueAfter {
            let next = last.addingTimeInterval(settings.rescueAfter)
            return .notRescued(
                message:
                    "the web archives had no image of it on \(Self.day(last)); asked again after \(Self.day(next))",
                asked: false)
        }
        let date = item.post.flatMap(PostDate.published(path:))
        var notes: [String] = []
        var asked = false
        for timegate in settings.timegates {
            let queue = queues[timegate]
            await queue?.acquire()
            let answer = await ask(timegate, about: item, near: date, temporaryDirectory, observers)
            await queue?.release()
            switch answer {
            case .rescued: return answer
            case .notRescued(let message, let answered):
                notes.append(message)
                asked = asked || answered
            }
        }
        return .notRescued(message: notes.joined(separator: "; "), asked: asked)
    }

    /// Asks one TimeGate about the origin, then the URL as written (unless it was found unreachable).
    private func ask(
        _ timegate: String, about item: FetchItem, near date: Date?, _ temporaryDirectory: () -> String,
        _ observers: [any FetchObserver]
    ) async -> RescueResult {
        if let reason = unreachable.withLock({ $0[timegate] }) {
            return .notRescued(message: "\(timegate) not asked: \(reason) earlier in this run", asked: false)
        }
        var notes: [String] = []
        for candidate in FetchPlanning.candidates(for: item) {
            switch await lookUp(candidate, at: timegate, near: date, temporaryDirectory, observers) {
            case .success(let (download, provenance)):
                logger.info("rescued", metadata: ["url": "\(item.url)", "memento": "\(provenance.memento)"])
                return .rescued(download, provenance)
            case .failure(let error) where Memento.isArchiveUnreachable(error.code):
                let reason = "it could not be reached (\(error.code): \(error.explanation))"
                unreachable.withLock { $0[timegate] = $0[timegate] ?? reason }
                // An unreachable archive is not asked about the next candidate either.
                return .notRescued(message: (notes + ["\(timegate): \(reason)"]).joined(separator: "; "), asked: false)
            case .failure(let error):
                let subject = candidate == item.url ? "" : " for the original (\(candidate))"
                notes.append("\(timegate)\(subject): \(Self.describe(error))")
            }
        }
        return .notRescued(message: notes.joined(separator: "; "), asked: true)
    }

    /// One TimeGate lookup: the TimeGate (with `Accept-Datetime`) leads to a memento; then its `id_` form gives
    /// the original bytes. Either answer must be an image (the downloader sniffs every body).
    private func lookUp(
        _ url: String, at timegate: String, near date: Date?, _ temporaryDirectory: () -> String,
        _ observers: [any FetchObserver]
    ) async -> Result<(Download, MementoProvenance), FetchError> {
        var headers: [HTTPHeaderField] = []
        if let date { headers.append(HTTPHeaderField(name: "Accept-Datetime", value: Memento.httpDate(date))) }
        let gate = Memento.timeGateURL(timegate, for: url)
        let first = await fetch(
            DownloadRequest(url: gate, temporaryDirectory: temporaryDirectory(), headers: headers), observers)
        guard case .success(let answer) = first else { return first.map { ($0, Self.placeholder) } }
        let memento = Memento.mementoURL(finalURL: answer.finalURL, headerLines: answer.responseHeaderLines)
        let datetime = Memento.header("Memento-Datetime", in: answer.responseHeaderLines)
            .flatMap(Memento.parseHTTPDate)
        guard datetime != nil || Memento.timestamp(of: memento) != nil else {
            Self.remove(answer)
            return .failure(
                FetchError(
                    code: .notAnImage, url: gate, httpStatus: answer.httpStatus, attempts: answer.attempts,
                    message: "the answer is not a memento (no Memento-Datetime): is \(timegate) a Memento TimeGate?"))
        }
        let capturedAt = datetime ?? Memento.timestamp(of: memento)
        guard let raw = Memento.rawForm(of: memento), raw != memento else {
            // Already the original bytes, or an archive with no `id_` form: the bytes as served, an image.
            return .success((answer, MementoProvenance(timegate: timegate, memento: memento, capturedAt: capturedAt)))
        }
        Self.remove(answer)
        let second = await fetch(DownloadRequest(url: raw, temporaryDirectory: temporaryDirectory()), observers)
        return second.map { download in
            let at = Memento.header("Memento-Datetime", in: download.responseHeaderLines)
                .flatMap(Memento.parseHTTPDate)
            return (download, MementoProvenance(timegate: timegate, memento: raw, capturedAt: at ?? capturedAt))
        }
    }

    private static let placeholder = MementoProvenance(timegate: "", memento: "", capturedAt: nil)

    private func fetch(_ request: DownloadRequest, _ observers: [any FetchObserver]) async -> Result<
        Download, FetchError
    > {
        let result = await downloader.download(request)
        let events: [FetchEvent]
        switch result {
        case .success(let download): events = FetchEvent.exchange(download)
        case .failure(let error): events = [.failed(url: request.url, error: error)]
        }
        for event in events { for observer in observers { observer.observe(event) } }
        return result
    }

    private static func remove(_ download: Download) {
        if let file = download.temporaryFile { try? FileManager.default.removeItem(atPath: file) }
    }

    /// Why an archive gave no image, in its terms.
    static func describe(_ error: FetchError) -> String {
        switch error.code {
        case .http4xx where error.httpStatus == 404 || error.httpStatus == 410:
            "no image capture (HTTP \(error.httpStatus ?? 404): none near the date, or a capture of a missing page)"
        case .notAnImage:
            "the capture is not an image (\(error.contentType ?? "no image type")): a page is never archived"
        default: error.explanation
        }
    }

    private static func day(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day())
    }
}

extension Rescuer {
    /// When each failing URL of the plan was last looked up at the archives (for `rescue-after`).
    static func lastLookups(needs: [String: FetchNeed], manifest: some FetchLedger) async throws -> [String: Date] {
        let failing = needs.values.filter { $0.reason == .retry }.map(\.url)
        guard !failing.isEmpty else { return [:] }
        return try await manifest.urlRecords(failing).compactMapValues(\.rescueCheckedAt)
    }

    /// Leaves out the revalidations of rescued URLs: a memento never changes, and the origin is dead.
    static func withoutRescuedRevalidations(_ needs: [String: FetchNeed]) -> [String: FetchNeed] {
        needs.filter { _, need in
            !(need.reason == .revalidate && need.archivedFrom.map(Memento.isRawMemento) == true)
        }
    }
}

extension PostDate {
    /// When the post at `path` was published: its front matter's `date`, else its file's modification time.
    static func published(path: String) -> Date? {
        if let handle = FileHandle(forReadingAtPath: path) {
            defer { try? handle.close() }
            if let head = try? handle.read(upToCount: 64 * 1024), let date = frontMatterDate([UInt8](head)) {
                return date
            }
        }
        return (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}

/// What the rescue step of a failed URL came to.
enum RescueStep: Sendable {
    /// Rescued (or stopped by a full disk): the outcome and the row to record.
    case done(URLOutcome, FetchOutcome?)
    /// Not rescued: what to add to the failure's message, and when the archives were asked (for `rescue-after`).
    case notRescued(note: String?, checkedAt: Date?)
}

extension Runner {
    /// After every candidate of `item` failed: when all failed for good, asks the web archives and commits what
    /// they give, like any download, with its provenance.
    func rescueAfterFailure(
        _ item: FetchItem, failures: [FetchError], rescuer: Rescuer, observers: [any FetchObserver]
    ) async -> RescueStep {
        guard !failures.isEmpty, failures.allSatisfy({ Memento.isDeadForGood($0.code, httpStatus: $0.httpStatus) })
        else { return .notRescued(note: nil, checkedAt: nil) }
        let now = Date()
        switch await rescuer.rescue(
            item, now: now, temporaryDirectory: { self.nextTemporaryFolder() }, observers: observers)
        {
        case .notRescued(let message, let asked):
            return .notRescued(note: message, checkedAt: asked ? now : nil)
        case .rescued(let download, let provenance):
            do {
                var (outcome, row) = try commit(download, item: item, candidate: provenance.memento)
                outcome.status = .rescued
                outcome.rescue = provenance
                if case .archived(var archived) = row {
                    archived.rescue = provenance
                    // The archive's validators are not the origin's: a rescued copy is never revalidated.
                    archived.etag = nil
                    archived.lastModified = nil
                    row = .archived(archived)
                }
                advance(failed: false, bytes: Int64(download.byteCount))
                return .done(outcome, row)
            } catch {
                if let file = download.temporaryFile { try? FileManager.default.removeItem(atPath: file) }
                if noteDiskFull(error) { return .done(Self.diskFullOutcome(item), nil) }
                return .notRescued(
                    note: "\(provenance.memento) gave the image, but it could not be stored in the archive (\(error)); "
                        + "check free space and permissions",
                    checkedAt: nil)
            }
        }
    }
}

/// How reports show a rescued image.
public enum RescueOutput {
    /// ` (captured 2020-01-01T00:00:00Z)`, or nothing when the archive gave no datetime.
    public static func captured(_ provenance: MementoProvenance) -> String {
        provenance.capturedAt.map { " (captured \($0.formatted(.iso8601)))" } ?? ""
    }

    /// The archive job's report entry of a rescued URL, nil for any other outcome.
    static func reportEntry(_ outcome: URLOutcome) -> [String: Any]? {
        guard outcome.status == .rescued, let r = outcome.rescue else { return nil }
        return [
            "url": outcome.url, "post": outcome.post ?? NSNull(), "timegate": r.timegate, "memento": r.memento,
            "memento_datetime": r.capturedAt.map { $0.formatted(.iso8601) } ?? NSNull(),
        ]
    }
}

/// Lets `permits` lookups run at once, the others wait their turn in order.
actor LookupQueue {
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(permits: Int) { free = max(1, permits) }

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty {
            free += 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
