public import Foundation
public import ImgArchiveCore

/// What the manifest knows about one image URL.
public struct URLRecord: Sendable, Hashable, Decodable {
    /// Whether the archive holds bytes for a URL.
    public enum Status: String, Sendable, Hashable, CaseIterable, Decodable {
        /// An object was archived for this URL (a later failed re-check keeps this status).
        case archived
        /// Every attempt so far failed; nothing is archived.
        case failed
    }

    /// The URL as the fetcher requested it (the manifest's key).
    public var url: String
    /// Whether an object is archived.
    public var status: Status
    /// The HTTP status of the last response (304 after a successful revalidation), nil when none came.
    public var httpStatus: Int?
    /// The failure class of the last attempt (dns, timeout, http-4xx, not-an-image, ...), nil after a success.
    public var errorClass: FailureClass?
    /// A sentence about the last failure, nil after a success.
    public var errorMessage: String?
    /// Attempts (retries included) made by the last fetch.
    public var attempts: Int
    /// The ETag of the archived response, for conditional GETs.
    public var etag: String?
    /// The Last-Modified of the archived response, for conditional GETs.
    public var lastModified: String?
    /// When bytes were first archived for this URL.
    public var firstFetchedAt: Date?
    /// When bytes were last downloaded and archived for this URL.
    public var lastFetchedAt: Date?
    /// When the URL was last tried, whatever the outcome.
    public var lastCheckedAt: Date?
    /// Since when attempts have failed without a success in between, nil when the last attempt succeeded.
    public var failingSince: Date?
    /// The SHA-256 of the archived object (the latest one, when the image changed).
    public var objectSHA256: String?
    /// The URL actually archived: the CDN origin or the URL as written, or the memento (its `id_` form) of a
    /// rescued image.
    public var archivedFrom: String?
    /// The TimeGate (web archive) that gave the archived bytes, when the image was rescued (nil otherwise).
    public var rescueTimegate: String?
    /// The memento the rescued bytes came from (the URL fetched at the archive).
    public var rescueMemento: String?
    /// When the archive captured the rescued bytes (`Memento-Datetime`).
    public var rescueMementoAt: Date?
    /// When a web archive was last asked about this URL (a rescue, or a lookup that found no image): the next
    /// lookup waits `rescue-after`.
    public var rescueCheckedAt: Date?

    /// Creates a record.
    public init(
        url: String, status: Status, httpStatus: Int? = nil, errorClass: FailureClass? = nil,
        errorMessage: String? = nil,
        attempts: Int = 0, etag: String? = nil, lastModified: String? = nil, firstFetchedAt: Date? = nil,
        lastFetchedAt: Date? = nil, lastCheckedAt: Date? = nil, failingSince: Date? = nil,
        objectSHA256: String? = nil, archivedFrom: String? = nil, rescue: MementoProvenance? = nil,
        rescueCheckedAt: Date? = nil
    ) {
        self.url = url
        self.status = status
        self.httpStatus = httpStatus
        self.errorClass = errorClass
        self.errorMessage = errorMessage
        self.attempts = attempts
        self.etag = etag
        self.lastModified = lastModified
        self.firstFetchedAt = firstFetchedAt
        self.lastFetchedAt = lastFetchedAt
        self.lastCheckedAt = lastCheckedAt
        self.failingSince = failingSince
        self.objectSHA256 = objectSHA256
        self.archivedFrom = archivedFrom
        self.rescueTimegate = rescue?.timegate
        self.rescueMemento = rescue?.memento
        self.rescueMementoAt = rescue?.capturedAt
        self.rescueCheckedAt = rescueCheckedAt
    }

    /// Where the archived bytes came from when a web archive rescued them, nil when they came from the web.
    public var rescue: MementoProvenance? {
        guard let rescueTimegate, let rescueMemento else { return nil }
        return MementoProvenance(timegate: rescueTimegate, memento: rescueMemento, capturedAt: rescueMementoAt)
    }
}

/// Where a rescued image came from: the web archive (its Memento TimeGate), the memento fetched, and when the
/// archive captured it.
public struct MementoProvenance: Sendable, Hashable {
    /// The TimeGate asked, e.g. `https://web.archive.org/web/`.
    public var timegate: String
    /// The memento whose original bytes were archived (its `id_` form where the archive offers one).
    public var memento: String
    /// The memento's datetime (`Memento-Datetime`), when the archive gave it.
    public var capturedAt: Date?

    /// Creates a provenance.
    public init(timegate: String, memento: String, capturedAt: Date?) {
        self.timegate = timegate
        self.memento = memento
        self.capturedAt = capturedAt
    }
}

/// One archived original.
public struct ObjectRecord: Sendable, Hashable, Decodable {
    /// The SHA-256 of its bytes, lowercase hex.
    public var sha256: String
    /// Its format, from its magic number.
    public var format: ImageFormat
    /// Its size in bytes.
    public var bytes: Int64
    /// Its pixel width, when decoded.
    public var width: Int?
    /// Its pixel height, when decoded.
    public var height: Int?
    /// Its path relative to the archive root.
    public var path: String
    /// When it entered the archive.
    public var createdAt: Date

    /// Creates a record.
    public init(
        sha256: String, format: ImageFormat, bytes: Int64, width: Int? = nil, height: Int? = nil, path: String,
        createdAt: Date
    ) {
        self.sha256 = sha256
        self.format = format
        self.bytes = bytes
        self.width = width
        self.height = height
        self.path = path
        self.createdAt = createdAt
    }
}

/// One derivative of an original at a given width.
public struct ThumbnailRecord: Sendable, Hashable, Decodable {
    /// The original's SHA-256.
    public var objectSHA256: String
    /// The requested width in pixels (the key with the original).
    public var width: Int
    /// The SHA-256 of the derivative's own bytes (what `verify` re-hashes).
    public var sha256: String
    /// Its actual pixel height.
    public var height: Int
    /// Its own format.
    public var format: ImageFormat
    /// Its size in bytes.
    public var bytes: Int64
    /// Its path relative to the archive root.
    public var path: String
    /// When it was made.
    public var createdAt: Date

    /// Creates a record.
    public init(
        objectSHA256: String, width: Int, sha256: String, height: Int, format: ImageFormat, bytes: Int64,
        path: String, createdAt: Date
    ) {
        self.objectSHA256 = objectSHA256
        self.width = width
        self.sha256 = sha256
        self.height = height
        self.format = format
        self.bytes = bytes
        self.path = path
        self.createdAt = createdAt
    }
}

/// One post as last scanned and rewritten.
public struct PostRecord: Sendable, Hashable, Decodable {
    /// The post's path (as the scanner names it, relative to the site root).
    public var path: String
    /// The SHA-256 of the post's bytes at the last scan.
    public var contentSHA256: String
    /// When it was last scanned.
    public var scannedAt: Date
    /// When imgarchive last rewrote it, nil when never (or after a revert).
    public var rewrittenAt: Date?
    /// The SHA-256 of the bytes imgarchive wrote, to tell whether someone edited the post since.
    public var rewrittenSHA256: String?

    /// Creates a record.
    public init(
        path: String, contentSHA256: String, scannedAt: Date, rewrittenAt: Date? = nil, rewrittenSHA256: String? = nil
    ) {
        self.path = path
        self.contentSHA256 = contentSHA256
        self.scannedAt = scannedAt
        self.rewrittenAt = rewrittenAt
        self.rewrittenSHA256 = rewrittenSHA256
    }
}

/// One post's content hash and remote references, as `ScanLedger.replaceReferences(_:scannedAt:)` records them.
public struct PostReferences: Sendable, Hashable {
    /// The post's name in the manifest (`ArchiveLayout.postKey`).
    public var post: String
    /// The SHA-256 of the post's bytes.
    public var contentSHA256: String
    /// Its remote references, in order.
    public var references: [ReferenceRecord]
    /// The stamp of the file the bytes were read from, when it can be trusted later (`FileStamp.isSettled`): a
    /// later run that finds the same stamp reuses this scan without reading the post.
    public var file: FileStamp?
    /// What the scan was made with (the scanner and its options, as `SiteScan` fingerprints them), when the
    /// scan may stand in for a later one: nil for a scan that had something to say (its diagnostics are told
    /// on every run) or that was made by a path that does not know.
    public var scannedWith: String?

    /// Creates the record of one post's references.
    public init(
        post: String, contentSHA256: String, references: [ReferenceRecord], file: FileStamp? = nil,
        scannedWith: String? = nil
    ) {
        self.post = post
        self.contentSHA256 = contentSHA256
        self.references = references
        self.file = file
        self.scannedWith = scannedWith
    }
}

/// A post's last recorded scan, as far as a later run needs it to skip the post when it has not changed.
public struct RecordedScan: Sendable, Hashable {
    /// The SHA-256 of the bytes scanned.
    public var contentSHA256: String
    /// The stamp of the file they were read from, nil when none was recorded.
    public var file: FileStamp?
    /// What the scan was made with (`PostReferences.scannedWith`), nil when it may not stand in for another.
    public var scannedWith: String?

    /// Creates a record.
    public init(contentSHA256: String, file: FileStamp?, scannedWith: String?) {
        self.contentSHA256 = contentSHA256
        self.file = file
        self.scannedWith = scannedWith
    }
}

/// One image reference found in a post by the scanner.
public struct ReferenceRecord: Sendable, Hashable, Decodable {
    /// The byte offset of the span's first byte in the post.
    public var rangeStart: Int
    /// The byte offset just past the span.
    public var rangeEnd: Int
    /// The 1-based line of the span's start.
    public var line: Int
    /// The 1-based column (in bytes) of the span's start.
    public var column: Int
    /// The syntax it came from (markdown-image, html-img, srcset, front-matter, ...), as the scanner names it.
    public var kind: String
    /// The span's raw text as written (a wrapped URL keeps its line breaks).
    public var written: String
    /// The URL after unwrapping and normalisation: the key into the `url` table.
    public var url: String
    /// The origin URL the CDN rules give, when it differs from `url`.
    public var origin: String?
    /// The width the post asks for (a thumbnail parameter or attribute), when any.
    public var width: Int?
    /// Whether the URL was broken over several lines.
    public var wrapped: Bool

    /// Creates a record.
    public init(
        rangeStart: Int, rangeEnd: Int, line: Int, column: Int, kind: String, written: String, url: String,
        origin: String? = nil, width: Int? = nil, wrapped: Bool = false
    ) {
        self.rangeStart = rangeStart
        self.rangeEnd = rangeEnd
        self.line = line
        self.column = column
        self.kind = kind
        self.written = written
        self.url = url
        self.origin = origin
        self.width = width
        self.wrapped = wrapped
    }
}

/// One span imgarchive replaced in a post, with what is needed to put the original bytes back.
public struct RewriteRecord: Sendable, Hashable, Decodable {
    /// The byte offset of the replacement in the post as rewritten.
    public var rangeStart: Int
    /// The byte offset just past the replacement in the post as rewritten.
    public var rangeEnd: Int
    /// The text written (the local path).
    public var replacement: String
    /// The exact bytes that were there before (revert writes these back).
    public var original: Data
    /// The URL of the reference that was rewritten.
    public var url: String
    /// When it was written.
    public var rewrittenAt: Date
    /// Up to 8 bytes before the replacement as written, to tell apart two identical links when reverting a
    /// post edited since.
    public var contextBefore: Data
    /// Up to 8 bytes after it.
    public var contextAfter: Data

    /// Creates a record.
    public init(
        rangeStart: Int, rangeEnd: Int, replacement: String, original: Data, url: String, rewrittenAt: Date,
        contextBefore: Data = Data(), contextAfter: Data = Data()
    ) {
        self.rangeStart = rangeStart
        self.rangeEnd = rangeEnd
        self.replacement = replacement
        self.original = original
        self.url = url
        self.rewrittenAt = rewrittenAt
        self.contextBefore = contextBefore
        self.contextAfter = contextAfter
    }
}

/// One rewrite of a post: the hashes of its bytes before and after, and the spans replaced.
public struct RewriteGeneration: Sendable, Hashable {
    /// 1 for the post's first rewrite, +1 for each later one.
    public var generation: Int
    /// The SHA-256 of the post before this rewrite.
    public var inputSHA256: String
    /// The SHA-256 of the post this rewrite wrote.
    public var outputSHA256: String
    /// False while the new bytes are not yet known to be in place (recorded before the rename).
    public var applied: Bool
    /// When it was written.
    public var rewrittenAt: Date
    /// The spans replaced, ordered by range (ranges in the output bytes).
    public var spans: [RewriteRecord]

    /// Creates a record.
    public init(
        generation: Int, inputSHA256: String, outputSHA256: String, applied: Bool, rewrittenAt: Date,
        spans: [RewriteRecord]
    ) {
        self.generation = generation
        self.inputSHA256 = inputSHA256
        self.outputSHA256 = outputSHA256
        self.applied = applied
        self.rewrittenAt = rewrittenAt
        self.spans = spans
    }
}

/// What the fetcher must do for one candidate URL.
public struct FetchNeed: Sendable, Hashable {
    /// Why the URL must be fetched.
    public enum Reason: String, Sendable, Hashable {
        /// Never tried.
        case new
        /// Tried before, nothing archived yet.
        case retry
        /// Archived, but last checked before the revalidation cutoff: send a conditional GET.
        case revalidate
    }

    /// The URL.
    public var url: String
    /// Why.
    public var reason: Reason
    /// The ETag for `If-None-Match` (revalidation only).
    public var etag: String?
    /// The Last-Modified for `If-Modified-Since` (revalidation only).
    public var lastModified: String?
    /// The URL the archived copy came from, which a revalidation asks (revalidation only).
    public var archivedFrom: String?

    /// Creates a need.
    public init(
        url: String, reason: Reason, etag: String? = nil, lastModified: String? = nil, archivedFrom: String? = nil
    ) {
        self.url = url
        self.reason = reason
        self.etag = etag
        self.lastModified = lastModified
        self.archivedFrom = archivedFrom
    }
}

/// Which archived URLs a fetch plan re-checks with a conditional GET.
public enum Revalidation: Sendable, Hashable {
    /// None: archived URLs are not fetched.
    case never
    /// Every archived URL (`--revalidate`).
    case all
    /// Those last checked before this date (never checked counts as due).
    case checkedBefore(Date)

    /// Whether a URL (or a link page) last checked at `lastChecked` is due.
    public func isDue(lastChecked: Date?) -> Bool {
        switch self {
        case .never: false
        case .all: true
        case .checkedBefore(let cutoff): lastChecked.map { $0 < cutoff } ?? true
        }
    }
}

/// The outcome of fetching one URL, for `FetchLedger.record(_:)`.
public enum FetchOutcome: Sendable, Hashable {
    /// The URL gave an object (already committed to the archive).
    case archived(Archived)
    /// A conditional GET was answered "not modified" (the URL must have an archived object).
    case notModified(NotModified)
    /// Every attempt failed.
    case failed(Failed)
    /// A link target (`link-image`) answered with a page, not an image: left alone until it is due again.
    case linkPage(LinkPage)

    /// The URL of the outcome.
    public var url: String {
        switch self {
        case .archived(let a): a.url
        case .notModified(let n): n.url
        case .failed(let f): f.url
        case .linkPage(let p): p.url
        }
    }

    /// The object an `archived` outcome records, nil for the others.
    public var archivedObject: ObjectRecord? {
        if case .archived(let a) = self { a.object } else { nil }
    }

    /// A URL that gave an object: the object is stored when new, the URL points at it, any earlier failure is
    /// cleared, and the URL's older objects stay in its history.
    public struct Archived: Sendable, Hashable {
        /// The URL as the posts write it (the manifest's key).
        public var url: String
        /// The URL the bytes came from: the CDN origin or `url`.
        public var archivedFrom: String
        /// The object, already committed to the archive.
        public var object: ObjectRecord
        /// The HTTP status of the response.
        public var httpStatus: Int
        /// Its ETag, for later conditional GETs.
        public var etag: String?
        /// Its Last-Modified, for later conditional GETs.
        public var lastModified: String?
        /// HTTP attempts made.
        public var attempts: Int
        /// When it was fetched.
        public var date: Date
        /// Where the bytes came from when a web archive rescued them (then `archivedFrom` is the memento).
        public var rescue: MementoProvenance?

        /// Creates an outcome.
        public init(
            url: String, archivedFrom: String, object: ObjectRecord, httpStatus: Int, etag: String? = nil,
            lastModified: String? = nil, attempts: Int, at date: Date, rescue: MementoProvenance? = nil
        ) {
            self.rescue = rescue
            self.url = url
            self.archivedFrom = archivedFrom
            self.object = object
            self.httpStatus = httpStatus
            self.etag = etag
            self.lastModified = lastModified
            self.attempts = attempts
            self.date = date
        }
    }

    /// A successful revalidation: only the check time and status change.
    public struct NotModified: Sendable, Hashable {
        /// The URL.
        public var url: String
        /// The HTTP status (304).
        public var httpStatus: Int
        /// When it was checked.
        public var date: Date

        /// Creates an outcome.
        public init(url: String, httpStatus: Int = 304, at date: Date) {
            self.url = url
            self.httpStatus = httpStatus
            self.date = date
        }
    }

    /// A failed fetch. A URL that has an archived object stays `archived` (the failure is kept in its error
    /// columns and `failingSince`); otherwise it becomes `failed`.
    public struct Failed: Sendable, Hashable {
        /// The URL.
        public var url: String
        /// Why.
        public var failureClass: FailureClass
        /// What went wrong and what to do.
        public var message: String
        /// The last HTTP status, when a response came.
        public var httpStatus: Int?
        /// HTTP attempts made.
        public var attempts: Int
        /// When it was tried.
        public var date: Date
        /// When web archives were asked for it in this run and had no image (nil when none was asked).
        public var rescueCheckedAt: Date?

        /// Creates an outcome.
        public init(
            url: String, failureClass: FailureClass, message: String, httpStatus: Int? = nil, attempts: Int,
            at date: Date, rescueCheckedAt: Date? = nil
        ) {
            self.rescueCheckedAt = rescueCheckedAt
            self.url = url
            self.failureClass = failureClass
            self.message = message
            self.httpStatus = httpStatus
            self.attempts = attempts
            self.date = date
        }
    }

    /// A link target that answered with a page: remembered (an earlier failure of it is forgotten).
    public struct LinkPage: Sendable, Hashable {
        /// The URL.
        public var url: String
        /// The HTTP status, when a response came.
        public var httpStatus: Int?
        /// The page's Content-Type, when given.
        public var contentType: String?
        /// When it was checked.
        public var date: Date

        /// Creates an outcome.
        public init(url: String, httpStatus: Int?, contentType: String?, at date: Date) {
            self.url = url
            self.httpStatus = httpStatus
            self.contentType = contentType
            self.date = date
        }
    }
}

/// One run of an imgarchive command, for reports.
public struct RunRecord: Sendable, Hashable, Decodable {
    /// The run's id.
    public var id: Int64
    /// The command (fetch, archive, rewrite, ...).
    public var command: String
    /// When it started.
    public var startedAt: Date
    /// When it finished, nil while running (or when it died).
    public var finishedAt: Date?
    /// Named counts (archived, failed, ...).
    public var counts: [String: Int]
    /// Its exit code, nil while running.
    public var exitCode: Int?

    /// Creates a record.
    public init(
        id: Int64, command: String, startedAt: Date, finishedAt: Date? = nil, counts: [String: Int] = [:],
        exitCode: Int? = nil
    ) {
        self.id = id
        self.command = command
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.counts = counts
        self.exitCode = exitCode
    }
}

/// One post's rewrite as `RewriteLedger.recordRewrites` records it (the arguments of `recordRewrite`).
public struct PostRewrite: Sendable {
    /// The post's key.
    public var post: String
    /// The SHA-256 of the post before the rewrite.
    public var inputSHA256: String
    /// The SHA-256 of the bytes written.
    public var outputSHA256: String
    /// The spans replaced (ranges in the output).
    public var rewrites: [RewriteRecord]
    /// When it was written.
    public var at: Date

    /// Creates a record.
    public init(post: String, inputSHA256: String, outputSHA256: String, rewrites: [RewriteRecord], at: Date) {
        self.post = post
        self.inputSHA256 = inputSHA256
        self.outputSHA256 = outputSHA256
        self.rewrites = rewrites
        self.at = at
    }
}

/// One post's revert as `RewriteLedger.recordReverts` records it: every rewrite put back (`recordRevert`), or
/// only some spans (`forgetRewriteSpans`).
public struct PostRevert: Sendable {
    /// The post's key.
    public var post: String
    /// The SHA-256 of the post as reverted (recorded when every span was put back).
    public var contentSHA256: String
    /// The spans put back when only some were (the others were not found), nil when all were.
    public var forgetting: [(generation: Int, rangeStart: Int)]?

    /// A post with every rewrite put back, now hashing to `contentSHA256`.
    public init(post: String, contentSHA256: String) {
        self.post = post
        self.contentSHA256 = contentSHA256
    }

    /// A post with only these spans put back.
    public init(post: String, forgetting spans: [(generation: Int, rangeStart: Int)]) {
        self.post = post
        contentSHA256 = ""
        forgetting = spans
    }
}

/// What the link-rot report needs of a URL, joined from its `url` row, the `object` row it names and that
/// object's `sanitized_svg` row (`ArchiveLedgerReader.postStandings(after:limit:)`): a few columns, not the
/// records, as a report holds one per reference of a chunk of posts.
public struct URLStanding: Sendable, Hashable {
    /// Whether an object is archived.
    public var status: URLRecord.Status
    /// The HTTP status of the last response, nil when none came.
    public var httpStatus: Int?
    /// The failure class of the last attempt.
    public var errorClass: FailureClass?
    /// A sentence about the last failure.
    public var errorMessage: String?
    /// Since when attempts have failed.
    public var failingSince: Date?
    /// Where the archived bytes came from when a web archive rescued them.
    public var rescue: MementoProvenance?
    /// The SHA-256 of the archived object the record names.
    public var objectSHA256: String?
    /// The object's path, relative to the archive, when the object is recorded.
    public var objectPath: String?
    /// The object's pixel width, when recorded and decoded.
    public var objectWidth: Int?
    /// The object's format, when the object is recorded.
    public var objectFormat: ImageFormat?
    /// Why the object (an SVG) cannot be published, when its sanitizing refused it.
    public var svgRefusal: String?

    /// Creates a standing.
    public init(
        status: URLRecord.Status, httpStatus: Int? = nil, errorClass: FailureClass? = nil, errorMessage: String? = nil,
        failingSince: Date? = nil, rescue: MementoProvenance? = nil, objectSHA256: String? = nil,
        objectPath: String? = nil, objectWidth: Int? = nil, objectFormat: ImageFormat? = nil,
        svgRefusal: String? = nil
    ) {
        self.status = status
        self.httpStatus = httpStatus
        self.errorClass = errorClass
        self.errorMessage = errorMessage
        self.failingSince = failingSince
        self.rescue = rescue
        self.objectSHA256 = objectSHA256
        self.objectPath = objectPath
        self.objectWidth = objectWidth
        self.objectFormat = objectFormat
        self.svgRefusal = svgRefusal
    }
}

/// One post of a chunk the link-rot report reads (`ArchiveLedgerReader.postStandings(after:limit:)`): the post,
/// its references from its last scan and the links of its applied rewrites, each with its URL's standing.
public struct PostStanding: Sendable, Hashable {
    /// One reference of the post's last scan, as the report needs it.
    public struct Reference: Sendable, Hashable {
        /// The 1-based line of the span's start.
        public var line: Int
        /// The 1-based column (in bytes) of the span's start.
        public var column: Int
        /// The syntax it came from, as the scanner names it.
        public var kind: String
        /// The URL (the key into the `url` table).
        public var url: String
        /// The origin URL the CDN rules give, when it differs from `url`.
        public var origin: String?
        /// The width the post asks for, when any.
        public var width: Int?
        /// The URL's standing, nil when no fetch of it is recorded.
        public var standing: URLStanding?
        /// Whether the URL is a link target known to be a page (`link_page`).
        public var isLinkPage: Bool

        /// Creates a reference.
        public init(
            line: Int, column: Int, kind: String, url: String, origin: String? = nil, width: Int? = nil,
            standing: URLStanding? = nil, isLinkPage: Bool = false
        ) {
            self.line = line
            self.column = column
            self.kind = kind
            self.url = url
            self.origin = origin
            self.width = width
            self.standing = standing
            self.isLinkPage = isLinkPage
        }
    }

    /// One span of an applied rewrite: the URL it replaced and what the post links to now.
    public struct Link: Sendable, Hashable {
        /// The URL the span held.
        public var url: String
        /// The link written in its place.
        public var replacement: String
        /// The URL's standing, nil when no fetch of it is recorded.
        public var standing: URLStanding?

        /// Creates a link.
        public init(url: String, replacement: String, standing: URLStanding? = nil) {
            self.url = url
            self.replacement = replacement
            self.standing = standing
        }
    }

    /// The post's record.
    public var post: PostRecord
    /// Its references, in the order they were recorded.
    public var references: [Reference]
    /// The spans of its applied rewrites, oldest generation first, each generation's by range.
    public var links: [Link]
    /// The widths of the thumbnails recorded of the objects its references with a width name, keyed by the
    /// object's digest.
    public var thumbnails: [String: [Int]]

    /// Creates a post's standing.
    public init(post: PostRecord, references: [Reference], links: [Link], thumbnails: [String: [Int]] = [:]) {
        self.post = post
        self.references = references
        self.links = links
        self.thumbnails = thumbnails
    }
}
