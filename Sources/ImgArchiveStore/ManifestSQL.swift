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
}
