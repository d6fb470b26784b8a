import Foundation
import GRDB
import ImgArchiveCore

/// The statements the SQLite and PostgreSQL manifests share: the same SQL on both engines (PostgreSQL speaks
/// SQLite's `INSERT ... ON CONFLICT` and `excluded`), written once so the two cannot drift apart.
enum ManifestSQL {
    /// A revalidation that found the archived copy current.
    static let notModified = """
        UPDATE url SET last_checked_at = ?, http_status = ?, error_class = NULL,
                       error_message = NULL, failing_since = NULL
        WHERE url = ? AND status = 'archived'
        """

    /// A failed fetch: the URL's row, keeping when it started failing and when an archive was last asked.
    static let upsertFailedURL = """
        INSERT INTO url (url, status, http_status, error_class, error_message, attempts,
                         last_checked_at, failing_since, rescue_checked_at)
        VALUES (?, 'failed', ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (url) DO UPDATE SET
            http_status = excluded.http_status, error_class = excluded.error_class,
            error_message = excluded.error_message, attempts = excluded.attempts,
            last_checked_at = excluded.last_checked_at,
            failing_since = coalesce(url.failing_since, excluded.failing_since),
            rescue_checked_at = coalesce(excluded.rescue_checked_at, url.rescue_checked_at)
        """

    /// A link target that answered with a page.
    static let upsertLinkPage = """
        INSERT INTO link_page (url, http_status, content_type, checked_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (url) DO UPDATE SET
            http_status = excluded.http_status, content_type = excluded.content_type,
            checked_at = excluded.checked_at
        """

    /// An archived fetch: the URL's row, with its object, validators and provenance.
    static let upsertArchivedURL = """
        INSERT INTO url (url, status, http_status, error_class, error_message, attempts, etag,
                         last_modified, first_fetched_at, last_fetched_at, last_checked_at,
                         failing_since, object_sha256, archived_from, rescue_timegate, rescue_memento,
                         rescue_memento_at, rescue_checked_at)
        VALUES (?, 'archived', ?, NULL, NULL, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (url) DO UPDATE SET
            status = 'archived', http_status = excluded.http_status, error_class = NULL,
            error_message = NULL, attempts = excluded.attempts, etag = excluded.etag,
            last_modified = excluded.last_modified,
            first_fetched_at = coalesce(url.first_fetched_at, excluded.first_fetched_at),
            last_fetched_at = excluded.last_fetched_at,
            last_checked_at = excluded.last_checked_at,
            failing_since = NULL, object_sha256 = excluded.object_sha256,
            archived_from = excluded.archived_from, rescue_timegate = excluded.rescue_timegate,
            rescue_memento = excluded.rescue_memento, rescue_memento_at = excluded.rescue_memento_at,
            rescue_checked_at = coalesce(excluded.rescue_checked_at, url.rescue_checked_at)
        """

    /// An object a URL has been archived as (its history).
    static let insertURLObject = """
        INSERT INTO url_object (url, object_sha256, archived_from, first_archived_at)
        VALUES (?, ?, ?, ?)
        ON CONFLICT DO NOTHING
        """

    /// An original, its size kept once known.
    static let insertObject = """
        INSERT INTO object (sha256, ext, media_type, bytes, width, height, path, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (sha256) DO UPDATE SET
            width = coalesce(object.width, excluded.width), height = coalesce(object.height, excluded.height)
        """

    /// A thumbnail of an original at a width.
    static let upsertThumbnail = """
        INSERT INTO thumbnail (object_sha256, width, sha256, height, format, bytes, path, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (object_sha256, width) DO UPDATE SET
            sha256 = excluded.sha256, height = excluded.height, format = excluded.format,
            bytes = excluded.bytes, path = excluded.path, created_at = excluded.created_at
        """

    /// The sanitized copy of an SVG original, or why there is none.
    static let upsertSanitizedSVG = """
        INSERT INTO sanitized_svg (object_sha256, sha256, bytes, path, removed, error, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (object_sha256) DO UPDATE SET
            sha256 = excluded.sha256, bytes = excluded.bytes, path = excluded.path,
            removed = excluded.removed, error = excluded.error, created_at = excluded.created_at
        """

    /// A post as scanned: its hash, and its file's stamp and scanner when the scan may stand in for a later one.
    static let upsertPost = """
        INSERT INTO post (path, content_sha256, scanned_at, file_size, file_mtime_ns, file_ctime_ns,
                          file_inode, scanned_with)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (path) DO UPDATE SET content_sha256 = excluded.content_sha256,
                                         scanned_at = excluded.scanned_at,
                                         file_size = excluded.file_size,
                                         file_mtime_ns = excluded.file_mtime_ns,
                                         file_ctime_ns = excluded.file_ctime_ns,
                                         file_inode = excluded.file_inode,
                                         scanned_with = excluded.scanned_with
        """

    /// Every post's recorded scan (`recordedScans`).
    static let selectRecordedScans = """
        SELECT path, content_sha256, file_size, file_mtime_ns, file_ctime_ns, file_inode, scanned_with
        FROM post
        """

    /// The paths of the posts after a path (every path is after the empty one), in path order, at most a count
    /// (`postPaths(after:limit:)`).
    static let selectPostPaths = "SELECT path FROM post WHERE path > ? ORDER BY path LIMIT ?"

    /// How many posts a statement of `selectRecordedScans(count:)` or `selectReferences(count:)`, or a read of
    /// `rewriteGenerations(posts:)`, names at most (SQLite: one `?` each, far below its limit of 32,766).
    static let postsPerStatement = 500

    /// The recorded scans of `count` posts, one `?` each (`recordedScans(posts:)`, SQLite).
    static func selectRecordedScans(count: Int) -> String {
        selectRecordedScans + " WHERE path IN (\(placeholders(count)))"
    }

    /// The recorded scans of the posts in an array (`recordedScans(posts:)`, PostgreSQL).
    static let selectRecordedScansIn = selectRecordedScans + " WHERE path = ANY(?::text[])"

    /// The columns of a reference read by position (SQLite) or by name (PostgreSQL), its post first.
    static let referenceColumns = """
        post, range_start, range_end, line, "column", kind, written, url, origin, width, wrapped
        """

    /// The references of `count` posts, one `?` each, each post's in their order (`references(posts:)`, SQLite:
    /// the primary key's order, no sort).
    static func selectReferences(count: Int) -> String {
        "SELECT \(referenceColumns) FROM reference WHERE post IN (\(placeholders(count))) ORDER BY post, ordinal"
    }

    /// `?, ?, ...`, `count` of them.
    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }

    /// The references of the posts in an array, each post's in their order (`references(posts:)`, PostgreSQL).
    static let selectReferencesIn =
        "SELECT \(referenceColumns) FROM reference WHERE post = ANY(?::text[]) ORDER BY post, ordinal"

    /// A rewrite generation, pending.
    static let insertGeneration = """
        INSERT INTO rewrite_generation (post, generation, input_sha256, output_sha256, applied, rewritten_at)
        VALUES (?, ?, ?, ?, 0, ?)
        """

    /// One span of a rewrite generation.
    static let insertRewriteSpan = """
        INSERT INTO rewrite (post, generation, range_start, range_end, replacement, original, url,
                             rewritten_at, context_before, context_after)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// The generations of a post left with no span.
    static let deleteEmptyGenerations = """
        DELETE FROM rewrite_generation WHERE post = ?
        AND generation NOT IN (SELECT generation FROM rewrite WHERE post = ?)
        """

    // MARK: The link-rot report, a chunk of posts at a time (`postStandings(after:limit:)`)

    /// The posts of a chunk: those after a path (every path is after the empty one), in path order, at most a
    /// count. The chunk's other reads take the posts after the same path up to the chunk's last.
    static let selectPostChunk = """
        SELECT path, content_sha256, scanned_at, rewritten_at, rewritten_sha256
        FROM post WHERE path > ? ORDER BY path LIMIT ?
        """

    /// What a URL's standing is read from, each column with its name (PostgreSQL's rows are keyed by name,
    /// SQLite's are read by position): the `url` row as `u`, its object as `o` and the object's sanitized SVG
    /// as `v` (`standingJoins`).
    static let standingColumns: [(column: String, name: String)] = [
        ("u.status", "url_status"), ("u.http_status", "http_status"), ("u.error_class", "error_class"),
        ("u.error_message", "error_message"), ("u.failing_since", "failing_since"),
        ("u.object_sha256", "object_sha256"), ("u.rescue_timegate", "rescue_timegate"),
        ("u.rescue_memento", "rescue_memento"), ("u.rescue_memento_at", "rescue_memento_at"),
        ("o.path", "object_path"), ("o.width", "object_width"), ("o.ext", "object_format"),
        ("v.error", "svg_refusal"),
    ]

    private static let standingList = standingColumns.map { "\($0.column) AS \($0.name)" }.joined(separator: ", ")

    /// The joins of `standingColumns` for the URL column `url`.
    private static func standingJoins(_ url: String) -> String {
        """
        LEFT JOIN url u ON u.url = \(url)
        LEFT JOIN object o ON o.sha256 = u.object_sha256
        LEFT JOIN sanitized_svg v ON v.object_sha256 = u.object_sha256
        """
    }

    /// The references of a chunk's posts (after a path, up to and with another), each with whether its URL is
    /// a known page and its URL's standing from column 8 on; ordered by post, then as recorded.
    static let selectChunkReferences = """
        SELECT r.post, r.line, r."column", r.kind, r.url, r.origin, r.width,
               CASE WHEN k.url IS NULL THEN 0 ELSE 1 END AS is_link_page, \(standingList)
        FROM reference r
        \(standingJoins("r.url"))
        LEFT JOIN link_page k ON k.url = r.url
        WHERE r.post > ? AND r.post <= ?
        ORDER BY r.post, r.ordinal
        """

    /// The spans of the applied rewrites of a chunk's posts, with their URL's standing from column 3 on;
    /// ordered by post, generation and range.
    static let selectChunkLinks = """
        SELECT s.post, s.url, s.replacement, \(standingList)
        FROM rewrite s
        JOIN rewrite_generation g ON g.post = s.post AND g.generation = s.generation
        \(standingJoins("s.url"))
        WHERE g.applied = 1 AND s.post > ? AND s.post <= ?
        ORDER BY s.post, s.generation, s.range_start
        """

    /// The thumbnails recorded of the objects that a chunk's references with a width name, per post.
    static let selectChunkThumbnails = """
        SELECT DISTINCT r.post, t.object_sha256, t.width
        FROM reference r
        JOIN url u ON u.url = r.url
        JOIN thumbnail t ON t.object_sha256 = u.object_sha256
        WHERE r.width IS NOT NULL AND r.post > ? AND r.post <= ?
        """

    /// A URL's standing from `standingColumns`' values, `value(i)` being the i-th; nil when the URL has no
    /// row. A status or image format this version does not know throws (the manifest is then reported
    /// corrupt, as the records' reads report it); an unknown failure class reads as `other`.
    static func standing(_ value: (Int) -> DatabaseValue) throws -> URLStanding? {
        guard let statusText = String.fromDatabaseValue(value(0)) else { return nil }
        guard let status = URLRecord.Status(rawValue: statusText) else {
            throw unreadable("URL status", statusText)
        }
        var standing = URLStanding(
            status: status, httpStatus: Int.fromDatabaseValue(value(1)),
            errorClass: String.fromDatabaseValue(value(2)).map { FailureClass(rawValue: $0) ?? .other },
            errorMessage: String.fromDatabaseValue(value(3)), failingSince: Date.fromDatabaseValue(value(4)),
            objectSHA256: String.fromDatabaseValue(value(5)), objectPath: String.fromDatabaseValue(value(9)),
            objectWidth: Int.fromDatabaseValue(value(10)), svgRefusal: String.fromDatabaseValue(value(12)))
        if let timegate = String.fromDatabaseValue(value(6)), let memento = String.fromDatabaseValue(value(7)) {
            standing.rescue = MementoProvenance(
                timegate: timegate, memento: memento, capturedAt: Date.fromDatabaseValue(value(8)))
        }
        if let name = String.fromDatabaseValue(value(11)) {
            guard let format = ImageFormat(nameOrExtension: name) else { throw unreadable("image format", name) }
            standing.objectFormat = format
        }
        return standing
    }

    /// Posts, references, links and thumbnails read for a chunk, put together as `PostStanding`s, in the posts'
    /// order (the rows of each are keyed by post).
    static func standings(
        posts: [PostRecord], references: [String: [PostStanding.Reference]], links: [String: [PostStanding.Link]],
        thumbnails: [String: [String: [Int]]]
    ) -> [PostStanding] {
        posts.map { post in
            PostStanding(
                post: post, references: references[post.path] ?? [], links: links[post.path] ?? [],
                thumbnails: thumbnails[post.path] ?? [:])
        }
    }

    static func unreadable(_ what: String, _ value: String) -> DecodingError {
        DecodingError.dataCorrupted(
            DecodingError.Context(codingPath: [], debugDescription: "unknown \(what) '\(value)'"))
    }
}
