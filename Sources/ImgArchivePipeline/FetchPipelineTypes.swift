public import Foundation
public import ImgArchiveCore
public import ImgArchiveFetch
public import ImgArchiveImage
public import ImgArchiveStore

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
    /// Where archived files live (local folders unless a caller says otherwise).
    public var objectStore: ObjectStoreFactory = .local
    /// Where the manifest lives (`manifest:`, `--manifest`): the archive folder's SQLite file, or PostgreSQL.
    public var manifest: ManifestLocation = .archiveFolder
    /// Told what happens to each request of a run, beside the run's own recorder (see `FetchEvent`).
    public var observers: [any FetchObserver] = []
    /// Write WARC records of the exchanges that archive images into `archive/warc/` (docs/web-archives.md); nil
    /// writes none.
    public var warc: WARCOptions?
    /// Rescue from web archives of images dead on the web; nil asks no archive (the command line's default is on).
    public var rescue: RescueSettings?

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
        /// Dead on the web, and archived now from a web archive's memento (`rescue` says which).
        case rescued
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
    public var errorClass: FailureClass?
    /// What went wrong and what to do.
    public var message: String?
    /// The last HTTP status.
    public var httpStatus: Int?
    /// A post that references the URL.
    public var post: String?
    /// Where the bytes came from when a web archive rescued them (status `rescued`).
    public var rescue: MementoProvenance? = nil
}

/// What a run did.
public struct FetchReport: Sendable {
    /// One outcome per URL, in the order of the input; of a run that handed its outcomes out a chunk at a time,
    /// only those it was asked to keep (the failed and rescued ones, for the text summary).
    public var outcomes: [URLOutcome] = []
    /// The outcomes handed out and not kept, counted by status.
    private var notKept: [URLOutcome.Status: Int] = [:]
    /// Derivatives made in this run.
    public var thumbnailsMade = 0
    /// Derivatives that could not be made.
    public var thumbnailFailures: [ThumbnailFailure] = []
    /// Set when the run stopped because the disk (or quota) is full: said once, not once per URL. The URLs it
    /// did not try are failures of class `disk-full` with no manifest row (the next run tries them as new).
    public var diskFull: String?
    /// What the run wrote to `archive/warc/`, when WARC output is on.
    public var warc: WARCSummary?

    /// Creates a report of `outcomes`.
    public init(outcomes: [URLOutcome] = []) {
        self.outcomes = outcomes
    }

    /// Outcomes counted by status (those not kept too).
    public var counts: [URLOutcome.Status: Int] {
        outcomes.reduce(into: notKept) { $0[$1.status, default: 0] += 1 }
    }

    /// Adds a chunk's outcomes: those `keep` says to `outcomes`, the others to the counts only.
    mutating func add(_ chunk: [URLOutcome], keeping keep: (URLOutcome) -> Bool) {
        for outcome in chunk {
            if keep(outcome) { outcomes.append(outcome) } else { notKept[outcome.status, default: 0] += 1 }
        }
    }

    /// Failures counted by class.
    public var failuresByClass: [FailureClass: Int] {
        outcomes.filter { $0.status == .failed }.reduce(into: [:]) { $0[$1.errorClass ?? .other, default: 0] += 1 }
    }
}

/// A derivative that could not be made: a thumbnail at a width, or an SVG original's sanitized copy.
public struct ThumbnailFailure: Sendable, Hashable, CustomStringConvertible {
    /// Which derivative.
    public enum Derivative: Sendable, Hashable {
        /// A thumbnail at this width.
        case thumbnail(width: Int)
        /// The sanitized copy of an SVG original, named by a URL that gave it.
        case sanitizedSVG(url: String)
    }

    /// The original's path, relative to the archive.
    public var objectPath: String
    /// Which derivative.
    public var derivative: Derivative
    /// What went wrong.
    public var message: String

    /// Creates a failure.
    public init(objectPath: String, derivative: Derivative, message: String) {
        self.objectPath = objectPath
        self.derivative = derivative
        self.message = message
    }

    /// `path at N px: message`, or `url (path): message` for an SVG.
    public var description: String {
        switch derivative {
        case .thumbnail(let width): "\(objectPath) at \(width) px: \(message)"
        case .sanitizedSVG(let url): "\(url) (\(objectPath)): \(message)"
        }
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
    /// Its references (only the remote ones when they come from the manifest's record).
    public var references: [ImageReference]
    /// The stamp of its file when read, when it can be trusted later (`PostReferences.file`).
    public var file: FileStamp?
    /// What the scan was made with, when it may stand in for a later one (`PostReferences.scannedWith`).
    public var scannedWith: String?
    /// True when the post was not read: its file's stamp and the scanner match the manifest's record of its
    /// last scan, whose references these are. Nothing new to record.
    public var unchanged: Bool
    /// Its name in the manifest of the archive whose record of the last scans the scan read
    /// (`ArchiveLayout.postKey`), computed once there and passed along; nil when the scan read no record.
    public var key: String?

    /// Creates a record.
    public init(
        path: String, contentSHA256: String, references: [ImageReference], file: FileStamp? = nil,
        scannedWith: String? = nil, unchanged: Bool = false, key: String? = nil
    ) {
        self.path = path
        self.contentSHA256 = contentSHA256
        self.references = references
        self.file = file
        self.scannedWith = scannedWith
        self.unchanged = unchanged
        self.key = key
    }
}
