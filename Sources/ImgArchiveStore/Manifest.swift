public import Foundation
import GRDB
import ImgArchiveCore

/// The archive's SQLite manifest (`manifest.sqlite`, WAL mode, through GRDB): URLs, objects, thumbnails,
/// posts, their references and rewrites, and runs.
///
/// Several processes may open the same manifest: each write is one IMMEDIATE transaction, and a writer
/// waits up to `busyTimeout` for another process's write to finish. Methods are synchronous and short.
public final class Manifest: Sendable {
    /// How long a write waits for another connection's write before failing with `.busy`.
    public static let busyTimeout: TimeInterval = 5

    /// The manifest file's path.
    public let path: String
    private let pool: DatabasePool

    /// Opens (creating when missing) the manifest of an archive and brings its schema up to date. Throws
    /// `.manifestLost` when the archive holds originals but its manifest is missing or empty (a new manifest
    /// would silently forget them), and says how to restore a damaged one.
    public convenience init(layout: ArchiveLayout) throws(StoreError) {
        try FileSystem.makeDirectory(layout.rootPath)
        _ = try layout.hasManifest()
        try self.init(url: layout.manifestURL)
    }

    /// Opens (creating when missing) the manifest file at `url` and brings its schema up to date.
    public init(url: URL) throws(StoreError) {
        path = url.standardizedFileURL.path
        var configuration = Configuration()
        configuration.busyMode = .timeout(Self.busyTimeout)
        configuration.foreignKeysEnabled = true
        configuration.label = "imgarchive.manifest"
        // WAL + synchronous=NORMAL: a commit is safe against a process crash; a power loss may drop the last
        // commits but never corrupts. Objects are fsynced before they are recorded, so a lost row only means
        // a URL is fetched again. Rewrite records are the exception (`durableWrite`).
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        // Two processes creating or migrating the same new file race on the schema: the loser's
        // "table already exists" or busy error is retried, and then finds the migration applied.
        var attempt = 0
        while true {
            attempt += 1
            do {
                let pool = try DatabasePool(path: path, configuration: configuration)
                let migrator = ManifestSchema.migrator
                let superseded = try pool.read { db in try migrator.hasBeenSuperseded(db) }
                if superseded {
                    throw StoreError(
                        code: .unsupportedVersion, path: path,
                        message: "\(path) was written by a newer imgarchive; upgrade imgarchive to use this archive")
                }
                try migrator.migrate(pool)
                self.pool = pool
                return
            } catch let error as StoreError {
                throw error
            } catch {
                var mapped = StoreError.database(error, path: path, operation: "opening")
                if mapped.code == .corrupt { mapped.message += "; " + ArchiveLayout.wayOut }
                if attempt >= 3 || mapped.code == .corrupt { throw mapped }
            }
        }
    }

    // MARK: URLs

    /// The record of one URL, nil when never tried.
    public func urlRecord(_ url: String) throws(StoreError) -> URLRecord? {
        try read("reading a URL") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM url WHERE url = ?", arguments: [url]).map(Self.urlRecord)
        }
    }

    /// The records of several URLs, keyed by URL (URLs never tried are absent).
    public func urlRecords(_ urls: [String]) throws(StoreError) -> [String: URLRecord] {
        try read("reading URLs") { db in
            var records: [String: URLRecord] = [:]
            let statement = try db.cachedStatement(sql: "SELECT * FROM url WHERE url = ?")
            for url in Set(urls) {
                if let row = try Row.fetchOne(statement, arguments: [url]) { records[url] = try Self.urlRecord(row) }
            }
            return records
        }
    }

    /// Every URL record, ordered by URL.
    public func allURLRecords() throws(StoreError) -> [URLRecord] {
        try read("reading URLs") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM url ORDER BY url").map(Self.urlRecord)
        }
    }

    /// Which of `candidates` the fetcher must request: URLs never tried (`.new`), URLs whose attempts all
    /// failed (`.retry`), and archived URLs last checked before `revalidateOlderThan` (`.revalidate`, with
    /// their validators). Archived URLs are skipped when `revalidateOlderThan` is nil. Order and duplicates
    /// follow `candidates` (first occurrence kept).
    public func urlsNeedingFetch(candidates: [String], revalidateOlderThan cutoff: Date?) throws(StoreError)
        -> [FetchNeed]
    {
        try read("planning fetches") { db in
            let statement = try db.cachedStatement(
                sql: "SELECT status, etag, last_modified, last_checked_at FROM url WHERE url = ?")
            var seen = Set<String>()
            var needs: [FetchNeed] = []
            for url in candidates where seen.insert(url).inserted {
                guard let row = try Row.fetchOne(statement, arguments: [url]) else {
                    needs.append(FetchNeed(url: url, reason: .new))
                    continue
                }
                let status: String = try row.decode(forColumn: "status")
                if status != URLRecord.Status.archived.rawValue {
                    needs.append(FetchNeed(url: url, reason: .retry))
                    continue
                }
                guard let cutoff else { continue }
                let checked: Date? = try row.decode(forColumn: "last_checked_at")
                if checked.map({ $0 < cutoff }) ?? true {
                    needs.append(
                        FetchNeed(
                            url: url, reason: .revalidate, etag: try row.decode(forColumn: "etag"),
                            lastModified: try row.decode(forColumn: "last_modified")))
                }
            }
            return needs
        }
    }

    /// Records that `url` gave `object` (already committed to the archive): stores the object when new,
    /// points the URL at it, clears any earlier failure, and keeps the URL's older objects in its history.
    public func recordFetchSuccess(
        url: String, archivedFrom: String, object: ObjectRecord, httpStatus: Int, etag: String?,
        lastModified: String?, attempts: Int, at date: Date
    ) throws(StoreError) {
        try record([
            .archived(
                url: url, archivedFrom: archivedFrom, object: object, httpStatus: httpStatus, etag: etag,
                lastModified: lastModified, attempts: attempts, at: date)
        ])
    }

    /// Records a successful revalidation (HTTP 304): only the check time and status change.
    /// Throws `.invalidArgument` when the URL has no archived object.
    public func recordNotModified(url: String, httpStatus: Int = 304, at date: Date) throws(StoreError) {
        try record([.notModified(url: url, httpStatus: httpStatus, at: date)])
    }

    /// Records a failed fetch. A URL that has an archived object stays `archived` (the failure is kept in
    /// its error columns and `failingSince`); otherwise it becomes `failed`.
    public func recordFetchFailure(
        url: String, errorClass: String, message: String, httpStatus: Int?, attempts: Int, at date: Date
    ) throws(StoreError) {
        try record([
            .failed(
                url: url, errorClass: errorClass, message: message, httpStatus: httpStatus, attempts: attempts,
                at: date)
        ])
    }

    /// Records many fetch outcomes in one transaction (all or none), with the same effects as the
    /// single-outcome methods; one transaction (and one WAL commit) instead of one per outcome.
    public func record(_ outcomes: [FetchOutcome]) throws(StoreError) {
        for outcome in outcomes {
            if case .archived(_, _, let object, _, _, _, _, _) = outcome {
                try ArchiveLayout.checkSHA256(object.sha256)
                try ArchiveLayout.checkRelativePath(object.path)
            }
        }
        try write("recording fetches") { db in
            for outcome in outcomes {
                switch outcome {
                case .archived(
                    let url, let archivedFrom, let object, let httpStatus, let etag, let lastModified,
                    let attempts, let date):
                    // A date is bound as text made by a DateFormatter, the costliest part of a row: made once
                    // per row (the object is usually created at the fetch's own date).
                    let stamp = date.databaseValue
                    try Self.insertObject(
                        object, createdAt: object.createdAt == date ? stamp : object.createdAt.databaseValue, db)
                    try db.cachedStatement(
                        sql: """
                            INSERT INTO url (url, status, http_status, error_class, error_message, attempts, etag,
                                             last_modified, first_fetched_at, last_fetched_at, last_checked_at,
                                             failing_since, object_sha256, archived_from)
                            VALUES (?, 'archived', ?, NULL, NULL, ?, ?, ?, ?, ?, ?, NULL, ?, ?)
                            ON CONFLICT (url) DO UPDATE SET
                                status = 'archived', http_status = excluded.http_status, error_class = NULL,
                                error_message = NULL, attempts = excluded.attempts, etag = excluded.etag,
                                last_modified = excluded.last_modified,
                                first_fetched_at = coalesce(url.first_fetched_at, excluded.first_fetched_at),
                                last_fetched_at = excluded.last_fetched_at,
                                last_checked_at = excluded.last_checked_at,
                                failing_since = NULL, object_sha256 = excluded.object_sha256,
                                archived_from = excluded.archived_from
                            """
                    ).execute(
                        arguments: [
                            url, httpStatus, attempts, etag, lastModified, stamp, stamp, stamp, object.sha256,
                            archivedFrom,
                        ])
                    try db.cachedStatement(sql: "DELETE FROM link_page WHERE url = ?").execute(arguments: [url])
                    try db.cachedStatement(
                        sql: """
                            INSERT INTO url_object (url, object_sha256, archived_from, first_archived_at)
                            VALUES (?, ?, ?, ?)
                            ON CONFLICT DO NOTHING
                            """
                    ).execute(
                        arguments: [url, object.sha256, archivedFrom, stamp])
                case .notModified(let url, let httpStatus, let date):
                    try db.cachedStatement(
                        sql: """
                            UPDATE url SET last_checked_at = ?, http_status = ?, error_class = NULL,
                                           error_message = NULL, failing_since = NULL
                            WHERE url = ? AND status = 'archived'
                            """
                    ).execute(
                        arguments: [date, httpStatus, url])
                    if db.changesCount == 0 {
                        throw StoreError(
                            code: .invalidArgument, path: path,
                            message: "a not-modified answer for \(url), which has nothing archived")
                    }
                case .failed(let url, let errorClass, let message, let httpStatus, let attempts, let date):
                    let stamp = date.databaseValue
                    try db.cachedStatement(
                        sql: """
                            INSERT INTO url (url, status, http_status, error_class, error_message, attempts,
                                             last_checked_at, failing_since)
                            VALUES (?, 'failed', ?, ?, ?, ?, ?, ?)
                            ON CONFLICT (url) DO UPDATE SET
                                http_status = excluded.http_status, error_class = excluded.error_class,
                                error_message = excluded.error_message, attempts = excluded.attempts,
                                last_checked_at = excluded.last_checked_at,
                                failing_since = coalesce(url.failing_since, excluded.failing_since)
                            """
                    ).execute(
                        arguments: [url, httpStatus, errorClass, message, attempts, stamp, stamp])
                case .linkPage(let url, let httpStatus, let contentType, let date):
                    try db.cachedStatement(
                        sql: """
                            INSERT INTO link_page (url, http_status, content_type, checked_at) VALUES (?, ?, ?, ?)
                            ON CONFLICT (url) DO UPDATE SET
                                http_status = excluded.http_status, content_type = excluded.content_type,
                                checked_at = excluded.checked_at
                            """
                    ).execute(arguments: [url, httpStatus, contentType, date])
                    // A page is no failure: an earlier failure of the same link is forgotten.
                    try db.cachedStatement(sql: "DELETE FROM url WHERE url = ? AND status = 'failed'")
                        .execute(arguments: [url])
                }
            }
        }
    }

    /// The link targets known to be pages (`FetchOutcome.linkPage`), with when each was checked; only `urls`
    /// when given, else all.
    public func linkPages(_ urls: [String]? = nil) throws(StoreError) -> [String: Date] {
        try read("reading link pages") { db in
            var pages: [String: Date] = [:]
            if let urls {
                let statement = try db.cachedStatement(sql: "SELECT checked_at FROM link_page WHERE url = ?")
                for url in Set(urls) {
                    if let date = try Date.fetchOne(statement, arguments: [url]) { pages[url] = date }
                }
            } else {
                for row in try Row.fetchAll(db, sql: "SELECT url, checked_at FROM link_page") {
                    pages[row["url"]] = row["checked_at"]
                }
            }
            return pages
        }
    }

    /// The objects a URL has given over time (oldest first): more than one when the image changed.
    public func objectHistory(url: String) throws(StoreError) -> [String] {
        try read("reading a URL's history") { db in
            try String.fetchAll(
                db,
                sql: "SELECT object_sha256 FROM url_object WHERE url = ? ORDER BY first_archived_at, object_sha256",
                arguments: [url])
        }
    }

    /// The URLs that have given the object with this digest, with the URL each was archived from, oldest
    /// first (from the URL's history, so a URL that now points at a newer object is still listed).
    public func urls(archivedAs sha256: String) throws(StoreError) -> [(url: String, archivedFrom: String)] {
        try read("reading an object's URLs") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT url, archived_from FROM url_object WHERE object_sha256 = ?
                    ORDER BY first_archived_at, url
                    """,
                arguments: [sha256]
            ).map { row in
                (url: try row.decode(forColumn: "url"), archivedFrom: try row.decode(forColumn: "archived_from"))
            }
        }
    }

    // MARK: Objects

    /// The object with this digest, nil when not archived.
    public func object(sha256: String) throws(StoreError) -> ObjectRecord? {
        try read("reading an object") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM object WHERE sha256 = ?", arguments: [sha256])
                .map(Self.objectRecord)
        }
    }

    /// The objects with these digests, keyed by digest (digests not archived are absent); one read.
    public func objects(sha256s: some Sequence<String>) throws(StoreError) -> [String: ObjectRecord] {
        try read("reading objects") { db in
            let statement = try db.cachedStatement(sql: "SELECT * FROM object WHERE sha256 = ?")
            var objects: [String: ObjectRecord] = [:]
            for sha256 in Set(sha256s) {
                if let row = try Row.fetchOne(statement, arguments: [sha256]) {
                    objects[sha256] = try Self.objectRecord(row)
                }
            }
            return objects
        }
    }

    /// Every object, ordered by digest (for `verify`).
    public func objects() throws(StoreError) -> [ObjectRecord] {
        try read("reading objects") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM object ORDER BY sha256").map(Self.objectRecord)
        }
    }

    /// Stores the pixel size of an object once it has been decoded.
    public func setObjectSize(sha256: String, width: Int, height: Int) throws(StoreError) {
        try write("recording an object's size") { db in
            try db.execute(
                sql: "UPDATE object SET width = ?, height = ? WHERE sha256 = ?", arguments: [width, height, sha256])
            if db.changesCount == 0 {
                throw StoreError(code: .invalidArgument, path: path, message: "no object \(sha256) in the manifest")
            }
        }
    }

    // MARK: Thumbnails

    /// Records (or replaces) the derivative of an object at a width.
    public func recordThumbnail(_ thumbnail: ThumbnailRecord) throws(StoreError) {
        try ArchiveLayout.checkRelativePath(thumbnail.path)
        try ArchiveLayout.checkSHA256(thumbnail.sha256)
        try write("recording a thumbnail") { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO thumbnail (object_sha256, width, sha256, height, format, bytes, path,
                                                      created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    thumbnail.objectSHA256, thumbnail.width, thumbnail.sha256, thumbnail.height,
                    thumbnail.format.rawValue,
                    thumbnail.bytes, thumbnail.path, thumbnail.createdAt,
                ])
        }
    }

    /// The derivative of an object at a width, nil when none was made.
    public func thumbnail(sha256: String, width: Int) throws(StoreError) -> ThumbnailRecord? {
        try read("reading a thumbnail") { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM thumbnail WHERE object_sha256 = ? AND width = ?", arguments: [sha256, width]
            ).map(Self.thumbnailRecord)
        }
    }

    /// The derivatives of these objects, keyed by object digest and then width; one read.
    public func thumbnails(sha256s: some Sequence<String>) throws(StoreError) -> [String: [Int: ThumbnailRecord]] {
        try read("reading thumbnails") { db in
            let statement = try db.cachedStatement(sql: "SELECT * FROM thumbnail WHERE object_sha256 = ?")
            var thumbnails: [String: [Int: ThumbnailRecord]] = [:]
            for sha256 in Set(sha256s) {
                for row in try Row.fetchAll(statement, arguments: [sha256]) {
                    let thumbnail = try Self.thumbnailRecord(row)
                    thumbnails[sha256, default: [:]][thumbnail.width] = thumbnail
                }
            }
            return thumbnails
        }
    }

    /// Every derivative (of one object when `sha256` is given), ordered by object and width.
    public func thumbnails(sha256: String? = nil) throws(StoreError) -> [ThumbnailRecord] {
        try read("reading thumbnails") { db in
            if let sha256 {
                return try Row.fetchAll(
                    db, sql: "SELECT * FROM thumbnail WHERE object_sha256 = ? ORDER BY width", arguments: [sha256]
                ).map(Self.thumbnailRecord)
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM thumbnail ORDER BY object_sha256, width")
                .map(Self.thumbnailRecord)
        }
    }

    // MARK: Posts and references

    /// Records a scan of a post: its content hash and its references, replacing the previous scan's
    /// references in one transaction (readers see the old set or the new set, never a mixture).
    /// Rewrite bookkeeping is kept (see `rewrites(post:)`).
    public func replaceReferences(
        post: String, contentSHA256: String, scannedAt: Date, references: [ReferenceRecord]
    ) throws(StoreError) {
        try replaceReferences(
            [PostReferences(post: post, contentSHA256: contentSHA256, references: references)], scannedAt: scannedAt)
    }

    /// Records the scans of many posts in one transaction, as `replaceReferences(post:...)` does for one: a
    /// run's scan costs one commit instead of one per post.
    public func replaceReferences(_ scans: [PostReferences], scannedAt: Date) throws(StoreError) {
        guard !scans.isEmpty else { return }
        try write("recording a scan") { db in
            let stamp = scannedAt.databaseValue
            let upsertPost = try db.cachedStatement(
                sql: """
                    INSERT INTO post (path, content_sha256, scanned_at) VALUES (?, ?, ?)
                    ON CONFLICT (path) DO UPDATE SET content_sha256 = excluded.content_sha256,
                                                     scanned_at = excluded.scanned_at
                    """)
            let deleteReferences = try db.cachedStatement(sql: "DELETE FROM reference WHERE post = ?")
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO reference (post, ordinal, range_start, range_end, line, "column", kind, written, url,
                                           origin, width, wrapped)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for scan in scans {
                try upsertPost.execute(arguments: [scan.post, scan.contentSHA256, stamp])
                try deleteReferences.execute(arguments: [scan.post])
                for (ordinal, reference) in scan.references.enumerated() {
                    try insert.execute(arguments: [
                        scan.post, ordinal, reference.rangeStart, reference.rangeEnd, reference.line,
                        reference.column, reference.kind, reference.written, reference.url, reference.origin,
                        reference.width, reference.wrapped,
                    ])
                }
            }
        }
    }

    /// A post's references from its last scan, in the order they were recorded.
    public func references(post: String) throws(StoreError) -> [ReferenceRecord] {
        try read("reading references") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM reference WHERE post = ? ORDER BY ordinal", arguments: [post])
                .map(Self.referenceRecord)
        }
    }

    /// The posts that reference a URL, ordered by path.
    public func posts(referencing url: String) throws(StoreError) -> [String] {
        try read("reading references") { db in
            try String.fetchAll(
                db, sql: "SELECT DISTINCT post FROM reference WHERE url = ? OR origin = ? ORDER BY post",
                arguments: [url, url])
        }
    }

    /// One post's record, nil when never scanned.
    public func post(_ path: String) throws(StoreError) -> PostRecord? {
        try read("reading a post") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM post WHERE path = ?", arguments: [path]).map(Self.postRecord)
        }
    }

    /// Every scanned post, ordered by path.
    public func posts() throws(StoreError) -> [PostRecord] {
        try read("reading posts") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM post ORDER BY path").map(Self.postRecord)
        }
    }

    /// Forgets a post (it was deleted), with its references and rewrite bookkeeping.
    public func removePost(_ path: String) throws(StoreError) {
        try write("removing a post") { db in
            try db.execute(sql: "DELETE FROM post WHERE path = ?", arguments: [path])
        }
    }

    // MARK: Rewrites

    /// Records one rewrite of a post before the post is replaced: its spans (ranges in the rewritten bytes) and
    /// the hashes of the bytes before and after. The generation starts pending; `markRewriteApplied` confirms it
    /// once the new bytes are in place, `discardRewrite` forgets it when they never were. Returns the generation.
    /// Throws `.invalidArgument` for a post never scanned.
    @discardableResult
    public func recordRewrite(
        post: String, inputSHA256: String, outputSHA256: String, rewrites: [RewriteRecord], at date: Date
    ) throws(StoreError) -> Int {
        // Durable before the post is renamed: after a power loss the post may show the rewrite, so its record
        // (the original bytes) must be there too.
        try durableWrite("recording a rewrite") { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM post WHERE path = ?", arguments: [post]) != nil else {
                throw StoreError(code: .invalidArgument, path: path, message: "post \(post) was never scanned")
            }
            let generation =
                try Int.fetchOne(
                    db, sql: "SELECT coalesce(max(generation), 0) + 1 FROM rewrite_generation WHERE post = ?",
                    arguments: [post]) ?? 1
            try db.execute(
                sql: """
                    INSERT INTO rewrite_generation (post, generation, input_sha256, output_sha256, applied, rewritten_at)
                    VALUES (?, ?, ?, ?, 0, ?)
                    """,
                arguments: [post, generation, inputSHA256, outputSHA256, date])
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO rewrite (post, generation, range_start, range_end, replacement, original, url,
                                         rewritten_at, context_before, context_after)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for rewrite in rewrites {
                try insert.execute(arguments: [
                    post, generation, rewrite.rangeStart, rewrite.rangeEnd, rewrite.replacement, rewrite.original,
                    rewrite.url, rewrite.rewrittenAt, rewrite.contextBefore, rewrite.contextAfter,
                ])
            }
            return generation
        }
    }

    /// Confirms a pending generation: the post now holds its output bytes.
    public func markRewriteApplied(post: String, generation: Int) throws(StoreError) {
        try write("recording a rewrite") { db in
            try db.execute(
                sql: "UPDATE rewrite_generation SET applied = 1 WHERE post = ? AND generation = ?",
                arguments: [post, generation])
            try db.execute(
                sql: """
                    UPDATE post SET rewritten_at = (SELECT rewritten_at FROM rewrite_generation
                                                    WHERE post = ?1 AND generation = ?2),
                                    rewritten_sha256 = (SELECT output_sha256 FROM rewrite_generation
                                                        WHERE post = ?1 AND generation = ?2)
                    WHERE path = ?1
                    """,
                arguments: [post, generation])
        }
    }

    /// Forgets a generation whose bytes never reached the post.
    public func discardRewrite(post: String, generation: Int) throws(StoreError) {
        try write("discarding a rewrite") { db in
            try db.execute(
                sql: "DELETE FROM rewrite WHERE post = ? AND generation = ?", arguments: [post, generation])
            try db.execute(
                sql: "DELETE FROM rewrite_generation WHERE post = ? AND generation = ?", arguments: [post, generation])
        }
    }

    /// Forgets some spans of a post's rewrites (they were reverted while others could not be), and the
    /// generations left with no span.
    public func forgetRewriteSpans(post: String, spans: [(generation: Int, rangeStart: Int)]) throws(StoreError) {
        try write("recording a revert") { db in
            for span in spans {
                try db.execute(
                    sql: "DELETE FROM rewrite WHERE post = ? AND generation = ? AND range_start = ?",
                    arguments: [post, span.generation, span.rangeStart])
            }
            try db.execute(
                sql: """
                    DELETE FROM rewrite_generation WHERE post = ?1
                    AND generation NOT IN (SELECT generation FROM rewrite WHERE post = ?1)
                    """,
                arguments: [post])
        }
    }

    /// A post's rewrites, oldest first, pending ones included, each with its spans ordered by range.
    public func rewriteGenerations(post: String) throws(StoreError) -> [RewriteGeneration] {
        try read("reading rewrites") { db in
            var spans: [Int: [RewriteRecord]] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT * FROM rewrite WHERE post = ? ORDER BY generation, range_start", arguments: [post])
            {
                let generation: Int = try row.decode(forColumn: "generation")
                spans[generation, default: []].append(try Self.rewriteRecord(row))
            }
            return try Row.fetchAll(
                db, sql: "SELECT * FROM rewrite_generation WHERE post = ? ORDER BY generation", arguments: [post]
            ).map { row in
                let generation: Int = try row.decode(forColumn: "generation")
                return RewriteGeneration(
                    generation: generation, inputSHA256: try row.decode(forColumn: "input_sha256"),
                    outputSHA256: try row.decode(forColumn: "output_sha256"),
                    applied: try row.decode(forColumn: "applied"),
                    rewrittenAt: try row.decode(forColumn: "rewritten_at"), spans: spans[generation] ?? [])
            }
        }
    }

    /// The spans of a post's applied rewrites, grouped by generation (oldest first), each ordered by range.
    public func rewrites(post: String) throws(StoreError) -> [[RewriteRecord]] {
        try rewriteGenerations(post: post).filter(\.applied).map(\.spans)
    }

    /// The posts with at least one rewrite on record, ordered by path.
    public func rewrittenPosts() throws(StoreError) -> [String] {
        try read("reading rewrites") { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT post FROM rewrite_generation ORDER BY post")
        }
    }

    /// Forgets a post's rewrites once it has been reverted to bytes hashing to `contentSHA256`.
    public func recordRevert(post: String, contentSHA256: String) throws(StoreError) {
        try write("recording a revert") { db in
            try db.execute(sql: "DELETE FROM rewrite WHERE post = ?", arguments: [post])
            try db.execute(sql: "DELETE FROM rewrite_generation WHERE post = ?", arguments: [post])
            try db.execute(
                sql: """
                    UPDATE post SET rewritten_at = NULL, rewritten_sha256 = NULL, content_sha256 = ? WHERE path = ?
                    """,
                arguments: [contentSHA256, post])
        }
    }

    // MARK: Runs

    /// Records the start of a run and returns its id.
    public func startRun(command: String, at date: Date) throws(StoreError) -> Int64 {
        try write("recording a run") { db in
            try db.execute(sql: "INSERT INTO run (command, started_at) VALUES (?, ?)", arguments: [command, date])
            return db.lastInsertedRowID
        }
    }

    /// Records the end of a run with its counts and exit code.
    public func finishRun(id: Int64, at date: Date, counts: [String: Int], exitCode: Int) throws(StoreError) {
        let json: String
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            json = String(decoding: try encoder.encode(counts), as: UTF8.self)
        } catch {
            throw StoreError(code: .invalidArgument, path: path, message: "run counts: \(error)", underlying: error)
        }
        try write("recording a run") { db in
            try db.execute(
                sql: "UPDATE run SET finished_at = ?, counts = ?, exit_code = ? WHERE id = ?",
                arguments: [date, json, exitCode, id])
            if db.changesCount == 0 {
                throw StoreError(code: .invalidArgument, path: path, message: "no run \(id) in the manifest")
            }
        }
    }

    /// The most recent runs, newest first.
    public func runs(limit: Int = 100) throws(StoreError) -> [RunRecord] {
        try read("reading runs") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM run ORDER BY id DESC LIMIT ?", arguments: [limit])
                .map(Self.runRecord)
        }
    }

    // MARK: Health

    /// Whether SQLite's `PRAGMA integrity_check` answers "ok" and `PRAGMA foreign_key_check` finds nothing.
    public func integrityCheck() throws(StoreError) -> Bool {
        try read("checking integrity") { db in
            let answers = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            let danglingKeys = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
            return answers == ["ok"] && danglingKeys.isEmpty
        }
    }

    /// The identifiers of the migrations applied to this manifest, in order.
    public func appliedMigrations() throws(StoreError) -> [String] {
        try read("reading the schema version") { db in try ManifestSchema.migrator.appliedMigrations(db) }
    }

    /// Writes a consistent copy of the manifest to `destination` (a new file) with SQLite's online backup:
    /// readers and writers may go on meanwhile. The copy is a self-contained rollback-journal database.
    public func backup(to destination: String) throws(StoreError) {
        do {
            let copy = try DatabaseQueue(path: destination)
            try pool.backup(to: copy)
            try copy.close()
        } catch {
            throw StoreError.database(error, path: destination, operation: "writing a snapshot")
        }
    }

    /// Records an original found in the archive that no row names (`verify --repair`), unless a row names it
    /// already; true when it was added. The caller has checked that its bytes hash to `object.sha256`.
    @discardableResult
    public func adoptObject(_ object: ObjectRecord) throws(StoreError) -> Bool {
        try ArchiveLayout.checkSHA256(object.sha256)
        try ArchiveLayout.checkRelativePath(object.path)
        return try write("adopting an object") { db in
            let known = try Bool.fetchOne(
                db, sql: "SELECT 1 FROM object WHERE sha256 = ? OR path = ?", arguments: [object.sha256, object.path])
            guard known == nil else { return false }
            try Self.insertObject(object, createdAt: object.createdAt.databaseValue, db)
            return true
        }
    }

    /// Closes the manifest's connections; later calls fail.
    public func close() throws(StoreError) {
        do { try pool.close() } catch { throw StoreError.database(error, path: path, operation: "closing") }
    }

    /// Test support: runs `body` while this connection holds an open write transaction of `rows` new runs,
    /// with a tiny page cache so the uncommitted pages spill into the WAL, then rolls it back.
    func withUncommittedWriteForTesting(rows: Int, _ body: () throws -> Void) throws {
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA cache_size = 8")
            defer { try? db.execute(sql: "PRAGMA cache_size = -2000") }
            try db.execute(sql: "BEGIN IMMEDIATE")
            defer { try? db.execute(sql: "ROLLBACK") }
            try db.execute(
                sql: """
                    INSERT INTO run (command, started_at)
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
                    SELECT 'uncommitted ' || i || ' ' || hex(randomblob(64)), '2027-01-15 08:00:00.000' FROM n
                    """,
                arguments: [rows])
            try body()
        }
    }

    // MARK: - Plumbing

    func read<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try pool.read(body) } catch { throw StoreError.database(error, path: path, operation: operation) }
    }

    func write<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try pool.write(body) } catch { throw StoreError.database(error, path: path, operation: operation) }
    }

    /// A write whose commit is on disk when it returns (`synchronous = FULL` for it: the WAL is fsynced), for
    /// rows that must survive a power loss because a file change follows them (a post's rewrite record).
    private func durableWrite<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
                defer { try? db.execute(sql: "PRAGMA synchronous = NORMAL") }
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                guard let result else {
                    throw StoreError(code: .database, path: path, message: "\(operation): no result")
                }
                return result
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.database(error, path: path, operation: operation)
        }
    }

    private static func insertObject(_ object: ObjectRecord, createdAt: DatabaseValue, _ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO object (sha256, ext, media_type, bytes, width, height, path, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (sha256) DO UPDATE SET
                    width = coalesce(object.width, excluded.width), height = coalesce(object.height, excluded.height)
                """
        ).execute(
            arguments: [
                object.sha256, object.format.fileExtension, object.format.mediaType, object.bytes, object.width,
                object.height, object.path, createdAt,
            ])
    }

    private static func format(_ text: String, column: String) throws -> ImageFormat {
        if let format = ImageFormat(rawValue: text) ?? ImageFormat.allCases.first(where: { $0.fileExtension == text }) {
            return format
        }
        throw StoreError(
            code: .corrupt, message: "manifest: unknown image format \(text.debugDescription) in \(column)")
    }

    private static func urlRecord(_ row: Row) throws -> URLRecord {
        let statusText: String = try row.decode(forColumn: "status")
        guard let status = URLRecord.Status(rawValue: statusText) else {
            throw StoreError(code: .corrupt, message: "manifest: unknown URL status \(statusText.debugDescription)")
        }
        return URLRecord(
            url: try row.decode(forColumn: "url"), status: status,
            httpStatus: try row.decode(forColumn: "http_status"),
            errorClass: try row.decode(forColumn: "error_class"),
            errorMessage: try row.decode(forColumn: "error_message"),
            attempts: try row.decode(forColumn: "attempts"),
            etag: try row.decode(forColumn: "etag"),
            lastModified: try row.decode(forColumn: "last_modified"),
            firstFetchedAt: try row.decode(forColumn: "first_fetched_at"),
            lastFetchedAt: try row.decode(forColumn: "last_fetched_at"),
            lastCheckedAt: try row.decode(forColumn: "last_checked_at"),
            failingSince: try row.decode(forColumn: "failing_since"),
            objectSHA256: try row.decode(forColumn: "object_sha256"),
            archivedFrom: try row.decode(forColumn: "archived_from"))
    }

    private static func objectRecord(_ row: Row) throws -> ObjectRecord {
        ObjectRecord(
            sha256: try row.decode(forColumn: "sha256"),
            format: try format(try row.decode(forColumn: "ext"), column: "object.ext"),
            bytes: try row.decode(forColumn: "bytes"),
            width: try row.decode(forColumn: "width"),
            height: try row.decode(forColumn: "height"),
            path: try row.decode(forColumn: "path"),
            createdAt: try row.decode(forColumn: "created_at"))
    }

    private static func thumbnailRecord(_ row: Row) throws -> ThumbnailRecord {
        ThumbnailRecord(
            objectSHA256: try row.decode(forColumn: "object_sha256"),
            width: try row.decode(forColumn: "width"),
            sha256: try row.decode(forColumn: "sha256"),
            height: try row.decode(forColumn: "height"),
            format: try format(try row.decode(forColumn: "format"), column: "thumbnail.format"),
            bytes: try row.decode(forColumn: "bytes"),
            path: try row.decode(forColumn: "path"),
            createdAt: try row.decode(forColumn: "created_at"))
    }

    private static func postRecord(_ row: Row) throws -> PostRecord {
        PostRecord(
            path: try row.decode(forColumn: "path"),
            contentSHA256: try row.decode(forColumn: "content_sha256"),
            scannedAt: try row.decode(forColumn: "scanned_at"),
            rewrittenAt: try row.decode(forColumn: "rewritten_at"),
            rewrittenSHA256: try row.decode(forColumn: "rewritten_sha256"))
    }

    private static func referenceRecord(_ row: Row) throws -> ReferenceRecord {
        ReferenceRecord(
            rangeStart: try row.decode(forColumn: "range_start"),
            rangeEnd: try row.decode(forColumn: "range_end"),
            line: try row.decode(forColumn: "line"),
            column: try row.decode(forColumn: "column"),
            kind: try row.decode(forColumn: "kind"),
            written: try row.decode(forColumn: "written"),
            url: try row.decode(forColumn: "url"),
            origin: try row.decode(forColumn: "origin"),
            width: try row.decode(forColumn: "width"),
            wrapped: try row.decode(forColumn: "wrapped"))
    }

    private static func rewriteRecord(_ row: Row) throws -> RewriteRecord {
        RewriteRecord(
            rangeStart: try row.decode(forColumn: "range_start"),
            rangeEnd: try row.decode(forColumn: "range_end"),
            replacement: try row.decode(forColumn: "replacement"),
            original: try row.decode(forColumn: "original"),
            url: try row.decode(forColumn: "url"),
            rewrittenAt: try row.decode(forColumn: "rewritten_at"),
            contextBefore: try row.decode(forColumn: "context_before"),
            contextAfter: try row.decode(forColumn: "context_after"))
    }

    private static func runRecord(_ row: Row) throws -> RunRecord {
        let countsText: String = try row.decode(forColumn: "counts")
        let counts: [String: Int]
        do {
            counts = try JSONDecoder().decode([String: Int].self, from: Data(countsText.utf8))
        } catch {
            throw StoreError(code: .corrupt, message: "manifest: unreadable run counts", underlying: error)
        }
        return RunRecord(
            id: try row.decode(forColumn: "id"),
            command: try row.decode(forColumn: "command"),
            startedAt: try row.decode(forColumn: "started_at"),
            finishedAt: try row.decode(forColumn: "finished_at"),
            counts: counts,
            exitCode: try row.decode(forColumn: "exit_code"))
    }
}

extension StoreError {
    /// The SQLite extended result code of a GRDB error, nil for other errors.
    static func sqliteResultCode(of error: any Error) -> Int32? {
        (error as? DatabaseError)?.extendedResultCode.rawValue
    }
}
