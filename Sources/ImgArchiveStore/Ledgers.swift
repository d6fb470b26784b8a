public import Foundation

// The manifest seen by use case. Each flow takes the narrowest ledger it needs: fetch (and `verify --repair`,
// which re-commits what fetch commits) a `FetchLedger`, rewrite and revert a `RewriteLedger`, status and verify
// an `ArchiveLedgerReader`; both writing ledgers record the posts' scans (`ScanLedger`). `SQLiteManifest` is the one implementation today and conforms to all three; a
// network database (PostgreSQL, issue 14) is another type conforming to the same protocols, with the same
// tables. Every method is `async` (a network database answers later) and throws `StoreError` (its codes:
// `.busy`, `.diskFull`, `.corrupt`, ... are what callers act on). Implementations never block Swift's
// cooperative pool: SQLite work runs on GRDB's own queues.

/// The read side: what the archive holds and what was done to the posts, for status, verify and reports, and
/// for the lookups the other flows make.
public protocol ArchiveLedgerReader: Sendable {
    /// The record of one URL, nil when never tried.
    func urlRecord(_ url: String) async throws(StoreError) -> URLRecord?
    /// The records of several URLs, keyed by URL (URLs never tried are absent).
    func urlRecords(_ urls: [String]) async throws(StoreError) -> [String: URLRecord]
    /// Every URL record, ordered by URL.
    func allURLRecords() async throws(StoreError) -> [URLRecord]
    /// The link targets known to be pages (`FetchOutcome.linkPage`), with when each was checked; only `urls`
    /// when given, else all.
    func linkPages(_ urls: [String]?) async throws(StoreError) -> [String: Date]
    /// The objects a URL has given over time (oldest first): more than one when the image changed.
    func objectHistory(url: String) async throws(StoreError) -> [String]
    /// The URLs that have given the object with this digest, with the URL each was archived from, oldest
    /// first (from the URL's history, so a URL that now points at a newer object is still listed).
    func urls(archivedAs sha256: String) async throws(StoreError) -> [(url: String, archivedFrom: String)]

    /// The object with this digest, nil when not archived.
    func object(sha256: String) async throws(StoreError) -> ObjectRecord?
    /// The objects with these digests, keyed by digest (digests not archived are absent); one read.
    func objects(sha256s: some Sequence<String>) async throws(StoreError) -> [String: ObjectRecord]
    /// At most `limit` objects whose digests come after `after` (all when nil), ordered by digest: `verify` reads
    /// the objects a page at a time.
    func objects(after: String?, limit: Int) async throws(StoreError) -> [ObjectRecord]

    /// The derivative of an object at a width, nil when none was made.
    func thumbnail(sha256: String, width: Int) async throws(StoreError) -> ThumbnailRecord?
    /// The derivatives of these objects, keyed by object digest and then width; one read.
    func thumbnails(sha256s: some Sequence<String>) async throws(StoreError) -> [String: [Int: ThumbnailRecord]]
    /// Every derivative (of one object when `sha256` is given), ordered by object and width.
    func thumbnails(sha256: String?) async throws(StoreError) -> [ThumbnailRecord]
    /// The sanitized copies (or refusals) of these SVG originals, keyed by the original's digest; one read.
    func sanitizedSVGs(sha256s: some Sequence<String>) async throws(StoreError) -> [String: SanitizedSVGRecord]
    /// Every sanitized copy or refusal, ordered by the original's digest (for `verify`).
    func sanitizedSVGs() async throws(StoreError) -> [SanitizedSVGRecord]

    /// One post's record, nil when never scanned.
    func post(_ path: String) async throws(StoreError) -> PostRecord?
    /// Every scanned post, ordered by path.
    func posts() async throws(StoreError) -> [PostRecord]
    /// The paths of the scanned posts after `after` in path order (from the first when nil), at most `limit`:
    /// a site's posts a chunk at a time.
    func postPaths(after: String?, limit: Int) async throws(StoreError) -> [String]
    /// Every post's last scan as a later run needs it to skip an unchanged post (content hash, file stamp, what
    /// the scan was made with), keyed by post; one read.
    func recordedScans() async throws(StoreError) -> [String: RecordedScan]
    /// `recordedScans()` of the posts at `paths` only (those never scanned are absent); one read. The archive
    /// job reads a chunk of posts' records at a time, not the whole site's.
    func recordedScans(posts paths: [String]) async throws(StoreError) -> [String: RecordedScan]
    /// A post's references from its last scan, in the order they were recorded.
    func references(post: String) async throws(StoreError) -> [ReferenceRecord]
    /// The posts that reference a URL, ordered by path.
    func posts(referencing url: String) async throws(StoreError) -> [String]
    /// A post's rewrites, oldest first, pending ones included, each with its spans ordered by range.
    func rewriteGenerations(post: String) async throws(StoreError) -> [RewriteGeneration]
    /// Every post's references from its last scan (`references(post:)` of every post), keyed by post; one read
    /// for a whole site instead of one per post. Posts with no reference are absent.
    func allReferences() async throws(StoreError) -> [String: [ReferenceRecord]]
    /// `references(post:)` of each post at `paths`, keyed by post; one read. Posts with no reference are absent.
    func references(posts paths: [String]) async throws(StoreError) -> [String: [ReferenceRecord]]
    /// `rewriteGenerations(post:)` of each post at `paths`, keyed by post; one read. Posts with no rewrite are
    /// absent. A revert reads a chunk of posts' rewrites at a time, not the whole site's.
    func rewriteGenerations(posts paths: [String]) async throws(StoreError) -> [String: [RewriteGeneration]]
    /// The posts with at least one rewrite on record, ordered by path.
    func rewrittenPosts() async throws(StoreError) -> [String]
    /// The link-rot report's view of the posts after `after` in path order (from the first when nil), at most
    /// `limit` of them: each post with its references, the links of its applied rewrites and the thumbnails of
    /// its references' objects, every URL joined to its record's standing; one read. The report reads a site
    /// this way a chunk at a time, so it never holds the whole site; an empty answer is the end.
    func postStandings(after: String?, limit: Int) async throws(StoreError) -> [PostStanding]

    /// The most recent runs, newest first.
    func runs(limit: Int) async throws(StoreError) -> [RunRecord]
    /// Whether the store's own consistency checks pass (SQLite: `integrity_check` and `foreign_key_check`).
    func integrityCheck() async throws(StoreError) -> Bool
}

extension ArchiveLedgerReader {
    /// Every link target known to be a page.
    public func linkPages() async throws(StoreError) -> [String: Date] { try await linkPages(nil) }

    /// Every derivative, ordered by object and width.
    public func thumbnails() async throws(StoreError) -> [ThumbnailRecord] { try await thumbnails(sha256: nil) }

    /// Every object, ordered by digest (`objects(after:limit:)` page after page).
    public func objects() async throws(StoreError) -> [ObjectRecord] {
        let pageSize = 10_000
        var all: [ObjectRecord] = []
        while true {
            let page = try await objects(after: all.last?.sha256, limit: pageSize)
            all += page
            if page.count < pageSize { return all }
        }
    }

    /// The 100 most recent runs, newest first.
    public func runs() async throws(StoreError) -> [RunRecord] { try await runs(limit: 100) }

    /// The spans of a post's applied rewrites, grouped by generation (oldest first), each ordered by range.
    public func rewrites(post: String) async throws(StoreError) -> [[RewriteRecord]] {
        try await rewriteGenerations(post: post).filter(\.applied).map(\.spans)
    }

    /// `recordedScans()` for a ledger that keeps no file stamps: every post is read and scanned again.
    public func recordedScans() async throws(StoreError) -> [String: RecordedScan] {
        var all: [String: RecordedScan] = [:]
        for post in try await posts() {
            all[post.path] = RecordedScan(contentSHA256: post.contentSHA256, file: nil, scannedWith: nil)
        }
        return all
    }

    /// `recordedScans(posts:)` for a ledger that keeps no file stamps: every post is read and scanned again.
    public func recordedScans(posts paths: [String]) async throws(StoreError) -> [String: RecordedScan] {
        var scans: [String: RecordedScan] = [:]
        for path in Set(paths) {
            if let post = try await post(path) {
                scans[path] = RecordedScan(contentSHA256: post.contentSHA256, file: nil, scannedWith: nil)
            }
        }
        return scans
    }

    /// `references(posts:)` from `references(post:)` of each post: for a ledger that has no single read for it.
    public func references(posts paths: [String]) async throws(StoreError) -> [String: [ReferenceRecord]] {
        var all: [String: [ReferenceRecord]] = [:]
        for path in Set(paths) {
            let references = try await references(post: path)
            if !references.isEmpty { all[path] = references }
        }
        return all
    }

    /// `allReferences()` from `references(post:)` of each post: for a ledger that has no single read for it.
    public func allReferences() async throws(StoreError) -> [String: [ReferenceRecord]] {
        var all: [String: [ReferenceRecord]] = [:]
        for post in try await posts() {
            let references = try await references(post: post.path)
            if !references.isEmpty { all[post.path] = references }
        }
        return all
    }
}

/// The posts' scans, which fetch, rewrite and revert all record: the part the two writing ledgers share.
public protocol ScanLedger: ArchiveLedgerReader {
    /// Records the scans of many posts in one transaction: each post's content hash and references, replacing
    /// the previous scan's references (readers see the old set or the new set, never a mixture). Rewrite
    /// bookkeeping is kept.
    func replaceReferences(_ scans: [PostReferences], scannedAt: Date) async throws(StoreError)
    /// Forgets a post (deleted from the site, or reverted and gone), with its references and rewrite bookkeeping.
    func removePost(_ path: String) async throws(StoreError)
}

extension ScanLedger {
    /// Records a scan of one post (`replaceReferences(_:scannedAt:)` with one element).
    public func replaceReferences(
        post: String, contentSHA256: String, scannedAt: Date, references: [ReferenceRecord]
    ) async throws(StoreError) {
        try await replaceReferences(
            [PostReferences(post: post, contentSHA256: contentSHA256, references: references)], scannedAt: scannedAt)
    }
}

/// The fetch ledger: plans what to fetch, records outcomes in batches, and records what a fetch (or a repair)
/// commits besides: derivatives, sanitized SVGs, adopted originals, the posts' scans and the runs.
public protocol FetchLedger: ScanLedger {
    /// Which of `candidates` the fetcher must request: URLs never tried (`.new`), URLs whose attempts all
    /// failed (`.retry`), and archived URLs that `revalidation` says are due (`.revalidate`, with their
    /// validators and the URL they were archived from). Order and duplicates follow `candidates` (first
    /// occurrence kept).
    func urlsNeedingFetch(candidates: [String], revalidation: Revalidation) async throws(StoreError) -> [FetchNeed]
    /// Records many fetch outcomes in one transaction (all or none). Throws `.invalidArgument` for a
    /// not-modified answer about a URL with nothing archived.
    func record(_ outcomes: [FetchOutcome]) async throws(StoreError)

    /// Records (or replaces) the derivative of an object at a width.
    func recordThumbnail(_ thumbnail: ThumbnailRecord) async throws(StoreError)
    /// Records (or replaces) derivatives in one transaction: all or none (a fetch records its thumbnails in
    /// batches). The default records them one by one.
    func recordThumbnails(_ thumbnails: [ThumbnailRecord]) async throws(StoreError)
    /// Records (or replaces) the sanitized copy of an SVG original, or the reason there is none.
    func recordSanitizedSVG(_ record: SanitizedSVGRecord) async throws(StoreError)
    /// Stores the pixel size of an object once it has been decoded.
    func setObjectSize(sha256: String, width: Int, height: Int) async throws(StoreError)
    /// Records an original found in the archive that no row names (`verify --repair`), unless a row names it
    /// already; true when it was added. The caller has checked that its bytes hash to `object.sha256`.
    @discardableResult
    func adoptObject(_ object: ObjectRecord) async throws(StoreError) -> Bool

    /// Records the start of a run and returns its id.
    func startRun(command: String, at date: Date) async throws(StoreError) -> Int64
    /// Records the end of a run with its counts and exit code.
    func finishRun(id: Int64, at date: Date, counts: [String: Int], exitCode: Int) async throws(StoreError)
}

extension FetchLedger {
    /// Records one fetch outcome (`record(_:)` with one element).
    public func record(_ outcome: FetchOutcome) async throws(StoreError) { try await record([outcome]) }

    public func recordThumbnails(_ thumbnails: [ThumbnailRecord]) async throws(StoreError) {
        for thumbnail in thumbnails { try await recordThumbnail(thumbnail) }
    }
}

/// The rewrite ledger: the generations of each post's rewrites with their spans (the original bytes), recorded
/// before a post is replaced and confirmed after, and their removal on revert.
public protocol RewriteLedger: ScanLedger {
    /// Records one rewrite of a post before the post is replaced: its spans (ranges in the rewritten bytes) and
    /// the hashes of the bytes before and after. The generation starts pending; `markRewriteApplied` confirms
    /// it once the new bytes are in place, `discardRewrite` forgets it when they never were. Returns the
    /// generation. Durable when it returns (the post's change follows). Throws `.invalidArgument` for a post
    /// never scanned.
    @discardableResult
    func recordRewrite(
        post: String, inputSHA256: String, outputSHA256: String, rewrites: [RewriteRecord], at date: Date
    ) async throws(StoreError) -> Int
    /// Confirms a pending generation: the post now holds its output bytes.
    func markRewriteApplied(post: String, generation: Int) async throws(StoreError)
    /// Forgets a generation whose bytes never reached the post.
    func discardRewrite(post: String, generation: Int) async throws(StoreError)
    /// Forgets some spans of a post's rewrites (they were reverted while others could not be), and the
    /// generations left with no span.
    func forgetRewriteSpans(post: String, spans: [(generation: Int, rangeStart: Int)]) async throws(StoreError)
    /// Forgets a post's rewrites once it has been reverted to bytes hashing to `contentSHA256`.
    func recordRevert(post: String, contentSHA256: String) async throws(StoreError)

    /// `recordRewrite` of many posts in one transaction (all or none), durable when it returns: a batch's
    /// records precede its renames. Returns each post's generation, in order.
    @discardableResult
    func recordRewrites(_ rewrites: [PostRewrite]) async throws(StoreError) -> [Int]
    /// `markRewriteApplied` of many generations in one transaction.
    func markRewritesApplied(_ generations: [(post: String, generation: Int)]) async throws(StoreError)
    /// `recordRevert` or `forgetRewriteSpans` of many posts in one transaction.
    func recordReverts(_ reverts: [PostRevert]) async throws(StoreError)
    /// The posts with a pending generation (recorded, neither confirmed nor discarded: what a killed run left
    /// to settle), ordered by path.
    func postsWithPendingRewrites() async throws(StoreError) -> [String]
}

extension RewriteLedger {
    /// `recordRewrites` one post at a time, for a ledger with no batch of its own (each record durable).
    @discardableResult
    public func recordRewrites(_ rewrites: [PostRewrite]) async throws(StoreError) -> [Int] {
        var generations: [Int] = []
        for r in rewrites {
            generations.append(
                try await recordRewrite(
                    post: r.post, inputSHA256: r.inputSHA256, outputSHA256: r.outputSHA256, rewrites: r.rewrites,
                    at: r.at))
        }
        return generations
    }

    /// `markRewritesApplied` one generation at a time.
    public func markRewritesApplied(_ generations: [(post: String, generation: Int)]) async throws(StoreError) {
        for g in generations { try await markRewriteApplied(post: g.post, generation: g.generation) }
    }

    /// `recordReverts` one post at a time.
    public func recordReverts(_ reverts: [PostRevert]) async throws(StoreError) {
        for r in reverts {
            if let spans = r.forgetting {
                try await forgetRewriteSpans(post: r.post, spans: spans)
            } else {
                try await recordRevert(post: r.post, contentSHA256: r.contentSHA256)
            }
        }
    }

    /// `postsWithPendingRewrites` from every rewritten post's generations.
    public func postsWithPendingRewrites() async throws(StoreError) -> [String] {
        var pending: [String] = []
        for post in try await rewrittenPosts()
        where try await rewriteGenerations(post: post).contains(where: { !$0.applied }) {
            pending.append(post)
        }
        return pending
    }
}
