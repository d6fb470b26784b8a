public import Foundation
import ImgArchiveCore
import ImgArchiveFetch
import ImgArchiveImage
public import ImgArchiveStore
public import Logging

/// A file the manifest lists that is missing or does not hash to its recorded digest, or a file at an archive
/// path that no row names.
public struct ArchiveProblem: Sendable, Hashable {
    /// What kind of file it is.
    public enum Kind: String, Sendable, Hashable {
        /// An original under `objects/`.
        case object
        /// A derivative under `w<width>/`, or a sanitized SVG copy under `svg/` (no width).
        case thumbnail
    }

    /// What is wrong with it.
    public enum Damage: String, Sendable, Hashable {
        /// No file at its path.
        case missing
        /// Its bytes hash to another digest.
        case corrupt
        /// A file at an archive path that no manifest row names (left by a failed or killed run, or by a lost
        /// manifest); `--repair` adopts it when its bytes match its name, else moves it to quarantine.
        case unrecorded
    }

    /// What `--repair` did about it.
    public enum Repair: Sendable, Hashable {
        /// Restored: re-fetched (an original, from `from`) or rebuilt (a thumbnail). A corrupt file was
        /// moved to `quarantined` (relative to the archive) first.
        case repaired(from: String?, quarantined: String?)
        /// An unrecorded file whose bytes match its name, now recorded in the manifest.
        case adopted
        /// An unrecorded file that could not be adopted (its bytes do not match its name, or its original or
        /// width is unknown), moved to `quarantined` (relative to the archive).
        case removed(quarantined: String, reason: String)
        /// Not restored, for the reason given; the file was left as it was.
        case failed(String)
    }

    /// What kind of file it is.
    public var kind: Kind
    /// What is wrong with it.
    public var damage: Damage
    /// Its path, relative to the archive.
    public var path: String
    /// The digest the manifest records for it (for an unrecorded file, the one its name says).
    public var expectedSHA256: String
    /// The digest of the bytes found, for a corrupt file.
    public var actualSHA256: String?
    /// The thumbnail's width, for a thumbnail.
    public var width: Int?
    /// The original's path, for a thumbnail.
    public var objectPath: String?
    /// The URLs the file (or, for a thumbnail, its original) came from.
    public var urls: [String]
    /// What `--repair` did; nil when not repairing.
    public var repair: Repair?
}

/// What `verify` found (and, with repair, did).
public struct VerificationReport: Sendable {
    /// Originals re-hashed.
    public var objectsChecked = 0
    /// Thumbnails re-hashed.
    public var thumbnailsChecked = 0
    /// Whether SQLite's integrity and foreign-key checks of the manifest passed.
    public var manifestIntact = true
    /// Repair only: the manifest was missing, empty or unreadable and was replaced by this snapshot
    /// (relative to the archive), or by a new, empty manifest when `manifestRestoredFrom` is nil.
    public var manifestRestored = false
    /// The snapshot the manifest was restored from, relative to the archive.
    public var manifestRestoredFrom: String?
    /// The missing and corrupt files, originals first.
    public var problems: [ArchiveProblem] = []

    /// Whether anything is still wrong after this run (a problem not repaired, or the manifest).
    public var hasUnresolvedProblems: Bool {
        !manifestIntact
            || problems.contains { p in
                switch p.repair {
                case .repaired?, .adopted?, .removed?: return false
                default: return true
                }
            }
    }
}

/// `imgarchive verify`: re-hashes every original and thumbnail the manifest lists and checks the manifest;
/// with repair, re-fetches originals from the URL they were archived from (the same bytes only) and rebuilds
/// thumbnails from their originals. Corrupt files are moved to `quarantine/<time>/` inside the archive,
/// never deleted.
public enum Verification {
    /// The folder, relative to the archive, where repair moves corrupt files.
    public static let quarantineFolder = "quarantine"

    /// Checks the archive at `archiveRoot` without changing anything and without the lock. Throws
    /// `StoreError` when there is no manifest (`.invalidArgument`, "no archive at ...") or it cannot be read.
    public static func verify(
        archiveRoot: URL, objects: ObjectStoreFactory = .local, manifest location: ManifestLocation = .archiveFolder
    ) async throws -> VerificationReport {
        _ = try existingLayout(archiveRoot, location: location)
        let backend = try await ArchiveBackend.open(root: archiveRoot, objects: objects, manifest: location)
        defer { backend.close() }
        return try await check(store: backend.objects, manifest: backend.manifest)
    }

    /// Checks the archive, then repairs what it can under the archive's lock. Throws `StoreError` (`.locked`
    /// when another run holds the archive) or `FetchError` when libcurl cannot be set up; a file that cannot
    /// be repaired is a problem in the report, not an error.
    public static func repair(settings: FetchSettings, logger: Logger) async throws -> VerificationReport {
        let layout = ArchiveLayout(root: settings.archiveRoot)
        let lock = try ArchiveLock.acquire(settings.archiveRoot)
        defer { lock.release() }
        let stamp = Self.stamp(Date())
        // A lost or unreadable manifest: the newest usable snapshot replaces it (the damaged file goes to
        // quarantine); with none, a new manifest. Either way the archive's files no row names are adopted below.
        var restored: (Bool, String?) = (false, nil)
        if settings.manifest == .archiveFolder, try await manifestNeedsRestore(layout) {
            let from = try await ManifestBackups(layout: layout).restoreNewest(
                holding: lock, quarantine: "\(quarantineFolder)/\(stamp)")
            restored = (true, from)
            logger.info("manifest restored", metadata: ["from": "\(from ?? "nothing: a new manifest")"])
        } else {
            _ = try existingLayout(settings.archiveRoot, location: settings.manifest)
        }
        // The manifest as it is now (restored, or new): not refused for originals it does not list yet.
        let backend = try await ArchiveBackend.open(
            root: settings.archiveRoot, objects: settings.objectStore, manifestAsIs: true,
            manifest: settings.manifest)
        defer { backend.close() }
        let (store, manifest) = (backend.objects, backend.manifest)
        try store.removeStaleTemporaryFiles(holding: lock)
        var report = try await check(store: store, manifest: manifest)
        (report.manifestRestored, report.manifestRestoredFrom) = restored
        guard !report.problems.isEmpty else { return report }
        let repairer = Repairer(settings: settings, store: store, manifest: manifest, logger: logger, stamp: stamp)

        // Files no row names: originals first (a thumbnail is adopted only with its original recorded).
        for kind in [ArchiveProblem.Kind.object, .thumbnail] {
            for i in report.problems.indices
            where report.problems[i].damage == .unrecorded && report.problems[i].kind == kind {
                report.problems[i].repair = await repairer.adopt(report.problems[i])
            }
        }

        // Originals first (thumbnails are rebuilt from them), one download at a time: a repair is rare and
        // small, and order keeps the report readable.
        var unrepairedObjects: [String: String] = [:]
        let objectIndices = report.problems.indices.filter {
            report.problems[$0].kind == .object && report.problems[$0].damage != .unrecorded
        }
        if !objectIndices.isEmpty {
            try await Downloader.withDownloader(options: settings.download, logger: logger) { downloader in
                for i in objectIndices {
                    let outcome = await repairer.refetch(report.problems[i], downloader: downloader)
                    report.problems[i].repair = outcome
                    if case .failed(let why) = outcome {
                        unrepairedObjects[report.problems[i].expectedSHA256] = why
                    }
                }
            }
        }
        let options = settings.thumbnails ?? ThumbnailOptions()
        for i in report.problems.indices
        where report.problems[i].kind == .thumbnail && report.problems[i].damage != .unrecorded {
            let problem = report.problems[i]
            guard let originalSHA = problem.objectPath.flatMap(Self.digest(inPath:)) else {
                report.problems[i].repair = .failed("the manifest does not say which original it was made from")
                continue
            }
            if let why = unrepairedObjects[originalSHA] {
                report.problems[i].repair = .failed("its original is damaged and was not repaired: \(why)")
                continue
            }
            if problem.width == nil && problem.path.hasPrefix(ArchiveLayout.sanitizedFolder + "/") {
                report.problems[i].repair = await repairer.resanitize(problem, originalSHA256: originalSHA)
                continue
            }
            report.problems[i].repair = await repairer.rebuild(problem, originalSHA256: originalSHA, options: options)
        }
        return report
    }

    // MARK: - Checking

    /// Whether the manifest must be restored: originals but no manifest (or an empty one), or a file SQLite
    /// cannot open. A new archive (neither) needs nothing.
    private static func manifestNeedsRestore(_ layout: ArchiveLayout) async throws -> Bool {
        let code: StoreError.Code
        do {
            guard try layout.hasManifest() else { return false }
            let manifest = try await ArchiveBackend.openManifest(layout)
            try manifest.close()
            return false
        } catch {
            guard error.code == .manifestLost || error.code == .corrupt else { throw error }
            code = error.code
        }
        return code == .manifestLost || code == .corrupt
    }

    private static func existingLayout(_ root: URL, location: ManifestLocation) throws(StoreError) -> ArchiveLayout {
        let layout = ArchiveLayout(root: root)
        guard try ArchiveBackend.hasManifest(layout, location: location) else {
            throw StoreError(
                code: .invalidArgument, path: layout.rootPath,
                message: "no archive at \(layout.rootPath); run imgarchive fetch first")
        }
        return layout
    }

    private static func check(store: any ObjectStore, manifest: some ArchiveLedgerReader) async throws(StoreError)
        -> VerificationReport
    {
        var report = VerificationReport()
        report.manifestIntact = try await manifest.integrityCheck()
        var urlsByObject: [String: [String]] = [:]
        func urls(_ sha: String) async throws(StoreError) -> [String] {
            if let known = urlsByObject[sha] { return known }
            var seen = Set<String>()
            let list = try await manifest.urls(archivedAs: sha).map(\.url).filter { seen.insert($0).inserted }
            urlsByObject[sha] = list
            return list
        }
        // The objects a page at a time, and the paths the manifest records as 16-byte digests: what verify holds
        // grows by 16 bytes an archived file, not by a record.
        func objectPath(_ sha: String) async throws(StoreError) -> String? {
            try await manifest.object(sha256: sha)?.path
        }
        var recorded = StringDigestSet()
        // Each page's thumbnails are read with it (a thumbnail's row names its object: a foreign key), and their
        // problems listed after the originals', by object and width, as `thumbnails()` orders them.
        var thumbnailProblems: [ArchiveProblem] = []
        var after: String?
        while true {
            let page = try await manifest.objects(after: after, limit: Self.objectsPerRead)
            let thumbnails = try await manifest.thumbnails(sha256s: page.map(\.sha256))
            for object in page {
                report.objectsChecked += 1
                _ = recorded.insert(object.path)
                let result = try store.verify(object.path, sha256: object.sha256)
                if let damage = Self.damage(result) {
                    report.problems.append(
                        ArchiveProblem(
                            kind: .object, damage: damage.0, path: object.path, expectedSHA256: object.sha256,
                            actualSHA256: damage.1, width: nil, objectPath: nil, urls: try await urls(object.sha256)))
                }
                for (width, thumbnail) in (thumbnails[object.sha256] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    _ = recorded.insert(thumbnail.path)
                    report.thumbnailsChecked += 1
                    let result = try store.verify(thumbnail.path, sha256: thumbnail.sha256)
                    guard let damage = Self.damage(result) else { continue }
                    thumbnailProblems.append(
                        ArchiveProblem(
                            kind: .thumbnail, damage: damage.0, path: thumbnail.path, expectedSHA256: thumbnail.sha256,
                            actualSHA256: damage.1, width: width, objectPath: object.path,
                            urls: try await urls(object.sha256)))
                }
            }
            guard page.count == Self.objectsPerRead, let last = page.last else { break }
            after = last.sha256
        }
        report.problems += thumbnailProblems
        // Sanitized SVG copies: what posts link to instead of SVG originals.
        for record in try await manifest.sanitizedSVGs() {
            guard let path = record.path, let sha = record.sha256 else { continue }
            _ = recorded.insert(path)
            report.thumbnailsChecked += 1
            guard let damage = Self.damage(try store.verify(path, sha256: sha)) else { continue }
            report.problems.append(
                ArchiveProblem(
                    kind: .thumbnail, damage: damage.0, path: path, expectedSHA256: sha, actualSHA256: damage.1,
                    width: nil, objectPath: try await objectPath(record.objectSHA256),
                    urls: try await urls(record.objectSHA256)))
        }
        // The files on disk a folder at a time; only those no row names are kept.
        var unrecorded: [String] = []
        try store.forEachArchivedFile { path in
            if !recorded.contains(path) { unrecorded.append(path) }
        }
        for path in unrecorded {
            let isObject = path.hasPrefix(ArchiveLayout.objectsFolder + "/")
            let digest = digest(inPath: path) ?? ""
            report.problems.append(
                ArchiveProblem(
                    kind: isObject ? .object : .thumbnail, damage: .unrecorded, path: path, expectedSHA256: digest,
                    actualSHA256: nil, width: isObject ? nil : Int(path.prefix { $0 != "/" }.dropFirst()),
                    objectPath: isObject ? nil : try await objectPath(digest), urls: []))
        }
        return report
    }

    /// How many object records `verify` reads at a time.
    static let objectsPerRead = 2_000

    private static func damage(_ v: ArchiveStore.HashCheck) -> (ArchiveProblem.Damage, String?)? {
        switch v {
        case .intact: nil
        case .missing: (.missing, nil)
        case .mismatch(let actual): (.corrupt, actual)
        }
    }

    /// The digest in an archive path's file name (`objects/ab/<sha256>.<ext>`).
    static func digest(inPath path: String) -> String? {
        let name = (path as NSString).lastPathComponent
        let stem = String(name.prefix { $0 != "." })
        return ArchiveLayout.isSHA256(stem) ? stem : nil
    }

    /// A file-name-safe UTC time stamp for the quarantine folder of one run.
    static func stamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(
            format: "%04d%02d%02dT%02d%02d%02dZ", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0,
            c.second ?? 0)
    }
}

/// The I/O of one repair: downloads with the same request shape as a fetch (`FetchSettings.request`), commits
/// and thumbnails with fetch's `ArchiveWriter`.
private struct Repairer: Sendable {
    let settings: FetchSettings
    let store: any ObjectStore
    let manifest: any FetchLedger
    let logger: Logger
    let stamp: String

    /// Commits into the archive, as fetch does.
    private var writer: ArchiveWriter { ArchiveWriter(store: store, manifest: manifest) }

    /// Re-fetches a missing or corrupt original from the URLs it was archived from, keeping only bytes that
    /// hash to the recorded digest.
    func refetch(_ problem: ArchiveProblem, downloader: Downloader) async -> ArchiveProblem.Repair {
        let sources: [String]
        do {
            var seen = Set<String>()
            sources = try await manifest.urls(archivedAs: problem.expectedSHA256).map(\.archivedFrom)
                .filter { seen.insert($0).inserted }
        } catch {
            return .failed("the manifest could not be read: \(error)")
        }
        guard !sources.isEmpty else { return .failed("the manifest names no URL it was archived from") }
        guard let format = ImageFormat.allCases.first(where: { problem.path.hasSuffix("." + $0.fileExtension) }) else {
            return .failed("its file name has no image extension")
        }
        var reasons: [String] = []
        for source in sources {
            switch await downloader.download(
                settings.request(source, temporaryDirectory: store.temporaryDirectory.path))
            {
            case .failure(let error):
                reasons.append("\(source): \(error.explanation)")
            case .success(let download):
                guard let file = download.temporaryFile else {
                    reasons.append("\(source): the server sent no image")
                    continue
                }
                guard download.sha256 == problem.expectedSHA256 else {
                    try? FileManager.default.removeItem(atPath: file)
                    logger.info(
                        "repair download differs", metadata: ["url": "\(source)", "sha256": "\(download.sha256)"])
                    reasons.append(
                        "\(source): the server now serves different bytes (SHA-256 \(download.sha256)); "
                            + "run imgarchive fetch --revalidate")
                    continue
                }
                do {
                    let quarantined = try quarantine(problem)
                    _ = try writer.commitOriginal(download, format: format)
                    return .repaired(from: source, quarantined: quarantined)
                } catch {
                    try? FileManager.default.removeItem(atPath: file)
                    return .failed("the download could not be stored in the archive (\(error))")
                }
            }
        }
        return .failed(reasons.joined(separator: "; "))
    }

    /// Rebuilds a missing or corrupt thumbnail from its (intact) original and records its new digest.
    func rebuild(_ problem: ArchiveProblem, originalSHA256: String, options: ThumbnailOptions) async
        -> ArchiveProblem.Repair
    {
        guard let width = problem.width, let originalPath = problem.objectPath else {
            return .failed("the manifest does not say which original and width it was made at")
        }
        let extensionName = (problem.path as NSString).pathExtension
        var quarantined: String?
        do {
            let made = try await writer.makeDerivative(
                originalSHA256: originalSHA256, originalPath: originalPath, width: width,
                suffix: extensionName.isEmpty ? "part" : extensionName, options: options,
                beforeCommit: { quarantined = try quarantine(problem) })
            guard made != nil else { return .failed("no thumbnail is made of its original at \(width) px any more") }
            return .repaired(from: originalPath, quarantined: quarantined)
        } catch {
            return .failed("the thumbnail could not be rebuilt: \(error)")
        }
    }

    /// Makes a missing or corrupt sanitized SVG copy again from its (intact) original.
    func resanitize(_ problem: ArchiveProblem, originalSHA256: String) async -> ArchiveProblem.Repair {
        do {
            guard let object = try await manifest.object(sha256: originalSHA256) else {
                return .failed("the manifest no longer lists its original")
            }
            let quarantined = try quarantine(problem)
            let made = try await SVGDerivatives.make(object, store: store, manifest: manifest)
            if let refusal = made.refusal { return .failed(refusal) }
            return .repaired(from: object.path, quarantined: quarantined)
        } catch {
            return .failed("the sanitized SVG could not be made again: \(error)")
        }
    }

    /// Adopts a file no row names: an original whose bytes hash to its name and sniff as its extension gets an
    /// object row; a thumbnail of a recorded original, at a width with no thumbnail row, gets a thumbnail row.
    /// Anything else is moved to quarantine (never deleted).
    func adopt(_ problem: ArchiveProblem) async -> ArchiveProblem.Repair {
        do {
            let file = try store.fileForReading(problem.path)
            let digest = try ArchiveStore.sha256(ofFileAt: file)
            let handle = try FileHandle(forReadingFrom: file)
            defer { try? handle.close() }
            let head = try handle.read(upToCount: ImageFormat.sniffLength) ?? Data()
            guard let format = ImageFormat.sniff(Array(head)) else {
                return try removal(problem, "its bytes are not an image")
            }
            let info = try? imageInfo(path: file.path)
            let size = try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber
            if problem.kind == .object {
                guard try ArchiveLayout.objectPath(sha256: digest, format: format) == problem.path else {
                    return try removal(problem, "its bytes hash to \(digest) as \(format.fileExtension), not its name")
                }
                try await manifest.adoptObject(
                    ObjectRecord(
                        sha256: digest, format: format, bytes: size?.int64Value ?? 0, width: info?.width,
                        height: info?.height, path: problem.path, createdAt: Date()))
                return .adopted
            }
            guard let width = problem.width, let original = try await manifest.object(sha256: problem.expectedSHA256)
            else { return try removal(problem, "the manifest knows no original it was made from") }
            guard
                try ArchiveLayout.thumbnailPath(sha256: original.sha256, width: width, format: format) == problem.path,
                let height = info?.height
            else {
                return try removal(problem, "its bytes are not a \((problem.path as NSString).pathExtension) image")
            }
            guard try await manifest.thumbnail(sha256: original.sha256, width: width) == nil else {
                return try removal(problem, "another thumbnail of its original at \(width) px is recorded")
            }
            try await manifest.recordThumbnail(
                ThumbnailRecord(
                    objectSHA256: original.sha256, width: width, sha256: digest, height: height, format: format,
                    bytes: size?.int64Value ?? 0, path: problem.path, createdAt: Date()))
            return .adopted
        } catch {
            return .failed("it could not be adopted: \(error)")
        }
    }

    private func removal(_ problem: ArchiveProblem, _ reason: String) throws -> ArchiveProblem.Repair {
        guard let quarantined = try quarantine(problem) else { return .failed(reason) }
        return .removed(quarantined: quarantined, reason: reason)
    }

    /// Moves a corrupt or unrecorded file to `quarantine/<stamp>/<its archive path>`; returns that relative
    /// path, or nil for a missing file.
    private func quarantine(_ problem: ArchiveProblem) throws -> String? {
        guard problem.damage != .missing else { return nil }
        return try store.quarantine(problem.path, into: "\(Verification.quarantineFolder)/\(stamp)")
    }

}
